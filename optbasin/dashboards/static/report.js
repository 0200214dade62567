// The report's script; runs after plotly.js. FIGS: id -> figure; update(d) is the one way the page
// changes, for the figures inlined in the page and for each live data file alike.
// Set before it by the page (templates/page.html.j2): LIVE, TEMPLATE, PAGE.
const CONFIG = {responsive: true, displaylogo: false};
const FIGS = {}, drawn = new Set(), sorts = {}, filters = {};
let queue = [], updates = 0;
function ready() { if (queue.length === 0) document.body.dataset.plotsReady = "1"; }
function keepView(el, layout) {
  // axes the reader zoomed or switched (buttons) keep their view when the data changes
  for (const ax in (el._userAxes || {})) {
    const cur = el.layout && el.layout[ax];
    if (cur && cur.range) layout[ax] = Object.assign({}, layout[ax], {range: cur.range.slice(), autorange: false, type: cur.type});
  }
}
function watch(el) {
  el._userAxes = {};
  el.on("plotly_relayout", ev => {
    for (const k in ev) {
      const m = k.match(/^([xy]axis\d*)\.(range|autorange|type)/);
      if (!m) continue;
      if (m[2] === "autorange" && ev[k] === true) delete el._userAxes[m[1]]; else el._userAxes[m[1]] = true;
    }
  });
}
function draw(id) {
  const f = FIGS[id], el = document.getElementById(id);
  if (!f || !el) return;
  const layout = Object.assign({}, f.layout, {template: TEMPLATE, uirevision: id});
  try {
    if (drawn.has(id)) keepView(el, layout);
    Plotly.react(el, f.data, layout, CONFIG);
    el.dataset.draws = (+el.dataset.draws || 0) + 1;
    if (!drawn.has(id)) { drawn.add(id); watch(el); }
  } catch (err) { console.error("figure " + id + ": " + err); }
}
// figures on screen first (and as they scroll into view), the others in the background
const io = "IntersectionObserver" in window ? new IntersectionObserver(entries => entries.forEach(en => {
  if (en.isIntersecting) { io.unobserve(en.target); take(en.target.id); }
}), {rootMargin: "300px"}) : null;
function take(id) { const i = queue.indexOf(id); if (i >= 0) { queue.splice(i, 1); draw(id); ready(); } }
function background() {
  const t0 = performance.now();
  while (queue.length && performance.now() - t0 < 30) draw(queue.shift());
  if (queue.length) setTimeout(background, 0); else ready();
}
function sortTable(table, col, asc) {
  const body = table.tBodies[0], group = table.dataset.group;
  table.querySelectorAll("th").forEach(h => delete h.dataset.dir);
  table.tHead.rows[0].cells[col].dataset.dir = asc ? "asc" : "desc";
  const cmp = (x, y) => {
    const nx = parseFloat(x), ny = parseFloat(y);
    if (x === "" && y === "") return 0; if (x === "") return 1; if (y === "") return -1;
    return (!isNaN(nx) && !isNaN(ny)) ? nx - ny : x.localeCompare(y);
  };
  const rows = Array.from(body.rows);
  rows.sort((a, b) => {
    if (group !== undefined) {
      const g = cmp(a.cells[+group].dataset.v, b.cells[+group].dataset.v);
      if (g !== 0) return g;  // rows of one group (task) stay together
    }
    const c = cmp(a.cells[col].dataset.v, b.cells[col].dataset.v);
    return asc ? c : -c;
  });
  rows.forEach(r => body.appendChild(r));
  if (table.id) sorts[table.id] = [col, asc];
}
function filterTable(input) {
  const table = document.getElementById(input.dataset.table), words = input.value.toLowerCase().split(/\s+/).filter(Boolean);
  let shown = 0;
  Array.from(table.tBodies[0].rows).forEach(r => {
    const ok = words.every(w => r.textContent.toLowerCase().includes(w));
    r.style.display = ok ? "" : "none"; shown += ok;
  });
  filters[input.dataset.table] = input.value;
  const count = input.parentNode.querySelector(".count");
  if (count) count.textContent = shown + " of " + table.tBodies[0].rows.length + " shown";
}
function bind(root) {
  root.querySelectorAll("table.sortable th").forEach(th => th.addEventListener("click", () => {
    sortTable(th.closest("table"), th.cellIndex, th.dataset.dir !== "asc");
  }));
  root.querySelectorAll("table.sortable[id]").forEach(t => { if (sorts[t.id]) sortTable(t, ...sorts[t.id]); });
  root.querySelectorAll("input.filter").forEach(inp => {
    if (filters[inp.dataset.table]) inp.value = filters[inp.dataset.table];
    inp.addEventListener("input", () => filterTable(inp));
    filterTable(inp);
  });
}
function place(parent, el, after) {
  const want = after ? after.nextSibling : parent.firstChild;
  if (want !== el) parent.insertBefore(el, want);
}
function update(d) {
  document.getElementById("status").innerHTML = d.status;
  const nav = document.getElementById("nav");
  if (nav.dataset.rev !== d.nav_rev) { nav.innerHTML = d.nav; nav.dataset.rev = d.nav_rev; }
  const main = document.getElementById("main"), keep = new Set(d.sections.map(s => s.id));
  let prev = null;
  d.sections.forEach(s => {
    let el = document.getElementById(s.id);
    if (!el) {
      el = document.createElement("section"); el.id = s.id;
      el.innerHTML = '<div class="body"></div><div class="grid"></div>';
    }
    place(main, el, prev); prev = el;
    if (el.dataset.rev !== s.rev) { el.querySelector(".body").innerHTML = s.html; el.dataset.rev = s.rev; bind(el); }
  });
  Array.from(main.children).forEach(el => { if (!keep.has(el.id)) el.remove(); });
  const ids = new Set(d.figs.map(f => f.id)), last = {};
  document.querySelectorAll("div.fig").forEach(el => {
    if (!ids.has(el.id)) { if (drawn.has(el.id)) Plotly.purge(el); drawn.delete(el.id); el.remove(); }
  });
  d.figs.forEach(f => {
    const grid = document.querySelector("#" + CSS.escape(f.section) + " .grid");
    let el = document.getElementById(f.id);
    if (!el) { el = document.createElement("div"); el.className = "fig"; el.id = f.id; }
    el.style.height = f.height + "px";
    place(grid, el, last[f.section]); last[f.section] = el;
    const changed = !FIGS[f.id] || FIGS[f.id].rev !== f.rev;
    FIGS[f.id] = f;
    if (drawn.has(f.id)) { if (changed) draw(f.id); }
    else if (!queue.includes(f.id)) { queue.push(f.id); if (io) io.observe(el); }
  });
  LIVE.running = d.running;
  document.body.dataset.updates = ++updates;
  setTimeout(background, 50);
}
window.optbasinUpdate = update;
update(PAGE);
bind(document);
function poll() {
  const s = document.createElement("script");
  s.src = LIVE.file + "?t=" + Date.now();
  s.onload = s.onerror = () => s.remove();
  document.body.appendChild(s);
}
window.optbasinPoll = poll;
if (LIVE.on) setInterval(() => { if (LIVE.running) poll(); }, LIVE.every * 1000);
