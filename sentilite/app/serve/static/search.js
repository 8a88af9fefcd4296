// The search page: a phrase (GET /api/search?text=) or a photo (POST /api/search) -> the closest
// photos of the server's index, drawn from /api/photo/{row}.
"use strict";

function showHits(hits) {
  const box = document.getElementById("hits");
  box.innerHTML = "";
  for (const h of hits) {
    const fig = document.createElement("figure");
    fig.className = "hit";
    fig.dataset.row = h.row;
    fig.innerHTML = `<img src="/api/photo/${h.row}" alt=""><figcaption></figcaption>`;
    fig.querySelector("figcaption").textContent = `${h.path} · ${h.score.toFixed(3)}`;
    box.appendChild(fig);
  }
}

async function run(response) {
  const error = document.getElementById("error");
  const body = await response.json();
  if (!response.ok) { error.textContent = `${response.status}: ${body.error}${body.fix ? " (" + body.fix + ")" : ""}`; return; }
  error.textContent = "";
  showHits(body.hits);
}

document.getElementById("text-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const text = document.getElementById("text").value.trim();
  if (text) await run(await fetch(`/api/search?k=12&text=${encodeURIComponent(text)}`));
});
document.getElementById("photo").addEventListener("change", async (e) => {
  const file = e.target.files[0];
  if (file) await run(await fetch("/api/search?k=12", {method: "POST", body: file}));
});
