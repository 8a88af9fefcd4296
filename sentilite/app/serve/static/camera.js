// The camera page: one frame at a time, scaled down in the browser, POSTed to /api/predict;
// label, frame rate and round-trip time drawn over the video (and shown beside it).
"use strict";

const SEND_WIDTH = 320;
const video = document.getElementById("video");
const overlay = document.getElementById("overlay");
const scratch = document.createElement("canvas");
let lastLabel = "–";
const times = [];

function drawOverlay(label, fps, rtt) {
  overlay.width = video.videoWidth;
  overlay.height = video.videoHeight;
  const ctx = overlay.getContext("2d");
  ctx.clearRect(0, 0, overlay.width, overlay.height);
  const h = Math.max(28, overlay.height / 12);
  ctx.fillStyle = "rgba(0, 0, 0, 0.55)";
  ctx.fillRect(0, 0, overlay.width, h * 1.5);
  ctx.fillStyle = "#fff";
  ctx.font = `bold ${h * 0.8}px system-ui, sans-serif`;
  ctx.fillText(label, h * 0.4, h);
  ctx.font = `${h * 0.45}px system-ui, sans-serif`;
  ctx.fillText(`${fps.toFixed(1)} fps · ${rtt.toFixed(0)} ms round trip`, overlay.width * 0.45, h);
}

async function sendFrame() {
  const scale = SEND_WIDTH / video.videoWidth;
  scratch.width = SEND_WIDTH;
  scratch.height = Math.round(video.videoHeight * scale);
  scratch.getContext("2d").drawImage(video, 0, 0, scratch.width, scratch.height);
  const blob = await new Promise((resolve) => scratch.toBlob(resolve, "image/jpeg", 0.85));
  const t0 = performance.now();
  const response = await fetch("/api/predict", {method: "POST", body: blob, headers: {"Content-Type": "image/jpeg"}});
  const rtt = performance.now() - t0;
  if (!response.ok) {
    showError(await errorText(response));
    return;
  }
  showError("");
  const r = await response.json();
  const now = performance.now();
  times.push(now);
  while (times.length > 1 && now - times[0] > 2000) times.shift();
  const fps = times.length > 1 ? (times.length - 1) / ((now - times[0]) / 1000) : 0;
  lastLabel = r.label;
  document.getElementById("label").textContent = r.label;
  document.getElementById("fps").textContent = `${fps.toFixed(1)} fps`;
  document.getElementById("rtt").textContent = rtt.toFixed(0);
  document.getElementById("infer").textContent = r.inference_ms.toFixed(1);
  showBars(r.probabilities);
  showHeads(r);
  drawOverlay(lastLabel, fps, rtt);
}

async function loop() {
  for (;;) {
    if (video.readyState >= 2 && video.videoWidth) {
      try {
        await sendFrame();
      } catch (e) {
        showError(`request failed: ${e}`);
        await new Promise((r) => setTimeout(r, 1000));
      }
    } else {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

async function start() {
  document.getElementById("send-width").textContent = SEND_WIDTH;
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    showError("This browser gives no camera access here (the page must be served from localhost or over HTTPS).");
    return;
  }
  try {
    video.srcObject = await navigator.mediaDevices.getUserMedia({video: {width: 640, height: 480}, audio: false});
  } catch (e) {
    showError(`No camera: ${e.name}: ${e.message}. Allow camera access and reload.`);
    return;
  }
  loop();
}

start();
