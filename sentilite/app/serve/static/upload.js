// The upload page: a dropped or chosen photo is POSTed as raw bytes to /api/predict.
"use strict";

const drop = document.getElementById("drop");
const input = document.getElementById("file");
const preview = document.getElementById("preview");

async function classify(file) {
  showError("");
  preview.src = URL.createObjectURL(file);
  preview.style.display = "block";
  document.getElementById("hint").style.display = "none";
  document.getElementById("label").textContent = "…";
  const t0 = performance.now();
  const response = await fetch("/api/predict", {method: "POST", body: file,
                                                headers: {"Content-Type": file.type || "application/octet-stream"}});
  const rtt = performance.now() - t0;
  if (!response.ok) {
    document.getElementById("label").textContent = "–";
    showError(await errorText(response));
    return;
  }
  const r = await response.json();
  document.getElementById("label").textContent = r.label;
  showBars(r.probabilities);
  showHeads(r);
  document.getElementById("timing").textContent =
    `inference ${r.inference_ms.toFixed(1)} ms · decode ${r.timing_ms.decode.toFixed(1)} ms · round trip ${rtt.toFixed(0)} ms`;
}

input.addEventListener("change", () => input.files.length && classify(input.files[0]));
drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (e) => {
  e.preventDefault();
  drop.classList.remove("over");
  if (e.dataTransfer.files.length) classify(e.dataTransfer.files[0]);
});
