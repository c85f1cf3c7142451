/* kequn dashboard glue: draw ECharts charts, add builder conditions, keep charts sized. */
(function () {
  "use strict";
  var fmtNum = function (v) { return (v == null || v === "-") ? "" : Number(v).toLocaleString(); };
  var pct = function (v) { return v == null ? "" : (v * 100).toFixed(1) + "%"; };
  var money = function (v) {
    var a = Math.abs(v), zh = document.documentElement.lang === "zh-CN";
    if (zh && a >= 1e8) return (v / 1e8).toFixed(1) + "亿";
    if (zh && a >= 1e4) return (v / 1e4).toFixed(a >= 1e5 ? 0 : 1) + "万";
    if (!zh && a >= 1e6) return (v / 1e6).toFixed(1) + "M";
    if (!zh && a >= 1e3) return (v / 1e3).toFixed(0) + "k";
    return fmtNum(v);
  };
  var markers = {
    "__pct__": pct,
    "__money__": money,
    "__pctlabel__": function (p) { return pct(p.value); },
    "__heat__": function (p) { var v = p.value[2]; return v === "-" ? "" : v + "%"; }
  };
  function revive(node) {
    if (Array.isArray(node)) { return node.map(revive); }
    if (node && typeof node === "object") {
      var out = {};
      Object.keys(node).forEach(function (k) { out[k] = revive(node[k]); });
      return out;
    }
    if (typeof node === "string" && markers[node]) { return markers[node]; }
    return node;
  }
  var charts = [];
  function draw(root) {
    if (!window.echarts) { return; }
    (root || document).querySelectorAll("[data-chart]").forEach(function (el) {
      if (el.dataset.drawn) { return; }
      var options = revive(JSON.parse(el.dataset.chart));
      var chart = window.echarts.init(el, null, { renderer: "canvas" });
      chart.setOption(options);
      el.dataset.drawn = "1";
      charts.push(chart);
    });
  }
  function addCondition(snippet) {
    var box = document.getElementById("rule");
    if (!box) { return; }
    var text = box.value.replace(/\s+$/, "");
    box.value = text ? text + "\nAND " + snippet : snippet;
    box.dispatchEvent(new Event("input", { bubbles: true }));
    box.focus();
  }
  document.addEventListener("click", function (ev) {
    var add = ev.target.closest("[data-snippet]");
    if (add) { ev.preventDefault(); addCondition(add.dataset.snippet); return; }
    var pick = ev.target.closest("[data-value][data-target]");
    if (pick) {
      ev.preventDefault();
      var field = pick.closest("form").querySelector("[name='" + pick.dataset.target + "']");
      if (field) { field.value = pick.dataset.value; field.focus(); }
    }
  });
  document.addEventListener("DOMContentLoaded", function () { draw(document); });
  document.addEventListener("htmx:afterSettle", function (ev) { draw(ev.target); });
  var timer = null;
  window.addEventListener("resize", function () {
    clearTimeout(timer);
    timer = setTimeout(function () {
      charts = charts.filter(function (c) { return !c.isDisposed() && document.body.contains(c.getDom()); });
      charts.forEach(function (c) { c.resize(); });
    }, 120);
  });
})();
