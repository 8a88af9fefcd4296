"""``sentilite serve``: the replication studies' web app on a small ASGI server (Starlette + uvicorn).

An upload page, a live browser camera and a JSON API over one model; no TensorFlow in the
process. ``inference`` owns the interpreters (one per worker thread) and the bounded queue,
``server`` the routes and HTTP errors, ``cli`` the command.
"""
