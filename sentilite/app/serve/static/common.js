// Shared by both pages: the probability bars, the model summary and error display.
"use strict";

function showBars(probabilities) {
  const bars = document.getElementById("bars");
  for (const [label, p] of Object.entries(probabilities)) {
    let row = bars.querySelector(`.bar[data-label="${label}"]`);
    if (!row) {
      row = document.createElement("div");
      row.className = "bar";
      row.dataset.label = label;
      row.innerHTML = `<span>${label}</span><div class="track"><div class="fill"></div></div><span class="pct"></span>`;
      bars.appendChild(row);
    }
    row.querySelector(".fill").style.width = `${(100 * p).toFixed(1)}%`;
    row.querySelector(".pct").textContent = `${(100 * p).toFixed(1)} %`;
  }
}

function showError(message) {
  document.getElementById("error").textContent = message || "";
}

async function errorText(response) {
  try {
    const body = await response.json();
    return `${response.status}: ${body.error}${body.fix ? " (" + body.fix + ")" : ""}`;
  } catch (e) {
    return `${response.status}: ${response.statusText}`;
  }
}

async function showModel() {
  const facts = document.getElementById("model-facts");
  try {
    const m = await (await fetch("/api/model")).json();
    const card = m.card || {};
    const rows = [
      ["file", m.name],
      ["variant", m.variant || "?"],
      ["runtime", m.runtime],
      ["input", m.contract_text],
      ["labels", m.labels.join(", ")],
    ];
    if (card.architecture) rows.push(["architecture", card.architecture.split(" (")[0]]);
    const test = card.evaluation && card.evaluation.emotion6_test_int8;
    if (test) rows.push(["Emotion6 test", `${(100 * test.accuracy).toFixed(1)} % (3 classes), ${(100 * test.polar_accuracy).toFixed(1)} % positive vs negative`]);
    if (card.known_limits) rows.push(["limits", [].concat(card.known_limits)[0]]);
    rows.push(["sha256", m.sha256.slice(0, 12) + "…"]);
    facts.innerHTML = "";
    for (const [k, v] of rows) {
      const dt = document.createElement("dt");
      const dd = document.createElement("dd");
      dt.textContent = k;
      dd.textContent = v;
      dd.style.margin = "0";
      facts.append(dt, dd);
    }
  } catch (e) {
    facts.textContent = "model facts unavailable";
  }
}

showModel();
