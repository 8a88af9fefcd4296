"""The ground floor: what every part shares (contract, labels, runtime choice, model files, metrics).

Nothing here imports a part (train, convert, device_bench, camera_demo) or the application
layer, and nothing here imports TensorFlow at import time; ``.importlinter`` enforces both.
"""
