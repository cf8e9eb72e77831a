/* Charts (Apache ECharts, vendored in static/vendor/echarts/): each [data-chart] element names its
   kind and the JSON endpoint it draws (data-src). Every label comes from the server, already in the
   reader's language; this file only arranges them. The same figures are in the table under each
   chart. The site plan slider ([data-plan-series]) re-colours the server-drawn SVG from a JSON
   series of daily statuses. No inline script anywhere (CSP): this file is loaded with defer. */
(function () {
  "use strict";
  if (typeof window.echarts === "undefined") return;
  var echarts = window.echarts;
  var charts = [];

  function narrow() { return window.innerWidth < 600; }

  function dark(el) { return !!el.closest(".screen"); }

  function base(data, el) {
    var small = narrow();
    return {
      backgroundColor: "transparent",
      animation: false,
      aria: { enabled: true },
      tooltip: { trigger: "axis", confine: true },
      legend: { type: "scroll", top: 0, textStyle: { fontSize: small ? 11 : (dark(el) ? 16 : 13) } },
      grid: { left: small ? 36 : 48, right: small ? 36 : 56, top: small ? 56 : 48, bottom: 40, containLabel: false },
      textStyle: { fontSize: dark(el) ? 16 : 12 }
    };
  }

  /* Read from across a room: larger axis labels on the wall screen. */
  function wallType(o) {
    [].concat(o.xAxis || [], o.yAxis || []).forEach(function (axis) {
      axis.axisLabel = axis.axisLabel || {};
      axis.axisLabel.fontSize = 16;
      axis.nameTextStyle = { fontSize: 16 };
    });
  }

  function days(data) {
    return data.days.map(function (d) { return d.slice(5); });
  }

  function line(name, values, extra) {
    var s = { name: name, type: "line", data: values, symbolSize: 5 };
    for (var k in extra || {}) s[k] = extra[k];
    return s;
  }

  var builders = {
    cases: function (data, el) {
      var o = base(data, el);
      var series = data.by_source.filter(function (s) {
        return s.values.some(function (v) { return v > 0; });
      }).map(function (s) {
        return { name: s.name, type: "bar", stack: "source", data: s.values };
      });
      if (!series.length) series.push({ name: data.total.name, type: "bar", data: data.total.values });
      series.push(line(data.total.name, data.total.values, { z: 5 }));
      o.xAxis = { type: "category", data: days(data), name: narrow() ? "" : data.axis.x };
      o.yAxis = { type: "value", name: data.axis.y, minInterval: 1 };
      o.series = series;
      return o;
    },
    antigen: function (data, el) {
      var o = base(data, el);
      o.xAxis = { type: "category", data: days(data) };
      o.yAxis = [
        { type: "value", name: data.axis.y, minInterval: 1 },
        { type: "value", name: narrow() ? "%" : data.axis.rate, max: 100, min: 0 }
      ];
      o.series = [
        { name: data.reported.name, type: "bar", data: data.reported.values },
        { name: data.positive.name, type: "bar", data: data.positive.values, itemStyle: { color: "#c0392b" } },
        line(data.rate.name, data.rate.values, { yAxisIndex: 1 })
      ];
      return o;
    },
    pcr: function (data, el) {
      var o = base(data, el);
      var cats = data.rounds.map(function (r) { return r.date.slice(5); });
      function pick(key) { return data.rounds.map(function (r) { return r[key]; }); }
      o.xAxis = { type: "category", data: cats, name: narrow() ? "" : data.axis.x };
      o.yAxis = [
        { type: "value", name: data.axis.y, minInterval: 1 },
        { type: "value", name: narrow() ? "%" : data.axis.rate, min: 0 }
      ];
      o.series = [
        { name: data.names.sampled, type: "bar", stack: "r", data: pick("sampled"), itemStyle: { color: "#2e7d32" } },
        { name: data.names.missing, type: "bar", stack: "r", data: pick("missing"), itemStyle: { color: "#e0493b" } },
        { name: data.names.exempt, type: "bar", stack: "r", data: pick("exempt"), itemStyle: { color: "#9aa5b1" } },
        line(data.names.positivity, pick("positivity"), { yAxisIndex: 1 })
      ];
      return o;
    },
    orders: function (data, el) {
      var o = base(data, el);
      o.xAxis = { type: "category", data: days(data) };
      o.yAxis = { type: "value", name: data.axis.y, minInterval: 1 };
      o.series = [
        { name: data.opened.name, type: "bar", data: data.opened.values },
        { name: data.done.name, type: "bar", data: data.done.values },
        line(data.deliveries.name, data.deliveries.values)
      ];
      return o;
    },
    ages: function (data, el) {
      var o = base(data, el);
      o.legend = { show: false };
      o.tooltip = { trigger: "axis", confine: true };
      o.xAxis = { type: "category", data: data.ages.map(function (a) { return a.name; }), axisLabel: { interval: 0 } };
      o.yAxis = { type: "value", name: data.axis.age, minInterval: 1 };
      o.series = [{ name: data.axis.age, type: "bar", data: data.ages.map(function (a) { return a.value; }) }];
      return o;
    }
  };

  function load(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } }).then(function (r) {
      if (!r.ok) throw new Error(String(r.status));
      return r.json();
    });
  }

  function draw(el) {
    var build = builders[el.dataset.chart];
    if (!build || el.dataset.drawing || el.dataset.rendered) return Promise.resolve();
    el.dataset.drawing = "1";
    return load(el.dataset.src).then(function (data) {
      var chart = echarts.getInstanceByDom(el) || echarts.init(el, dark(el) ? "dark" : null);
      var option = build(data, el);
      if (dark(el) && !narrow()) wallType(option);
      chart.setOption(option, true);
      charts.push(chart);
      el.dataset.rendered = "1";
    }).catch(function () {
      el.dataset.failed = "1";
      el.classList.add("chart-failed");
    }).then(function () { delete el.dataset.drawing; });
  }

  // One chart after another: a weak signal (and the server) takes five requests better in turn.
  function drawAll(root) {
    var els = Array.prototype.slice.call((root || document).querySelectorAll("[data-chart]"));
    els.reduce(function (done, el) { return done.then(function () { return draw(el); }); }, Promise.resolve());
    (root || document).querySelectorAll("[data-plan-series]").forEach(planSlider);
  }

  function disposeIn(root) {
    root.querySelectorAll("[data-chart]").forEach(function (el) {
      var chart = echarts.getInstanceByDom(el);
      if (chart) {
        charts = charts.filter(function (c) { return c !== chart; });
        chart.dispose();
      }
    });
  }

  /* The site plan through time: one colour per building per day, by zone or by days since its last case. */
  function sinceColour(legend, n) {
    for (var i = 0; i < legend.length; i++) {
      var s = legend[i];
      if (n === null) { if (s.from === null) return s.colour; continue; }
      if (s.from !== null && n >= s.from && (s.to === null || n <= s.to)) return s.colour;
    }
    return "#e8f1fb";
  }

  function planSlider(box) {
    if (box.dataset.ready) return;
    box.dataset.ready = "1";
    var slider = box.querySelector("[data-plan-slider]");
    var output = box.querySelector("[data-plan-day]");
    var shapes = box.querySelectorAll("polygon.bldg[data-id]");
    load(box.dataset.planSeries).then(function (data) {
      function mode() {
        var picked = box.querySelector("input[name=plan-mode]:checked");
        return picked ? picked.value : "zone";
      }
      function paint() {
        var i = Number(slider.value);
        var m = mode();
        output.textContent = data.days[i];
        shapes.forEach(function (shape) {
          var id = shape.dataset.id;
          var colour;
          if (m === "since") {
            var n = (data.since[id] || [])[i];
            colour = sinceColour(data.since_legend, n === undefined ? null : n);
          } else {
            var s = data.statuses[(data.zone[id] || [])[i] || 0];
            colour = s ? s.colour : "#ccc";
          }
          shape.setAttribute("fill", colour);
        });
        box.querySelectorAll("[data-legend]").forEach(function (ul) { ul.hidden = ul.dataset.legend !== m; });
        box.dataset.painted = data.days[i] + ":" + m;
      }
      slider.addEventListener("input", paint);
      box.querySelectorAll("input[name=plan-mode]").forEach(function (r) { r.addEventListener("change", paint); });
      paint();
    }).catch(function () { box.dataset.failed = "1"; });
  }

  var pending = null;
  window.addEventListener("resize", function () {
    clearTimeout(pending);
    pending = setTimeout(function () { charts.forEach(function (c) { c.resize(); }); }, 150);
  });
  document.body.addEventListener("htmx:beforeSwap", function (e) { if (e.detail.target) disposeIn(e.detail.target); });
  document.body.addEventListener("htmx:afterSettle", function () { drawAll(document); });
  drawAll(document);
})();
