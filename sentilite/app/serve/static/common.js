// Shared by both pages: the probability bars, the model summary and error display.
"use strict";

function showBars(probabilities, containerId = "bars") {
  const bars = document.getElementById(containerId);
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

// A multi-head model's extra readings: the seven emotion bars and the valence/arousal point.
function showHeads(r) {
  const heads = document.getElementById("heads");
  if (!r.emotions && r.valence === undefined) { heads.hidden = true; return; }
  heads.hidden = false;
  if (r.emotions) showBars(r.emotions, "emotion-bars");
  if (r.valence !== undefined && r.arousal !== undefined) {
    const dot = document.getElementById("va-dot");
    dot.setAttribute("cx", (10 + (r.valence - 1) / 8 * 100).toFixed(1));
    dot.setAttribute("cy", (110 - (r.arousal - 1) / 8 * 100).toFixed(1));
    document.getElementById("va-text").textContent = `valence ${r.valence.toFixed(2)}, arousal ${r.arousal.toFixed(2)}`;
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
    if (m.heads && m.heads.length) rows.push(["heads", m.heads.map((h) => h.name).join(", ")]);
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
