// mcp_analytics dashboard: progressive enhancement only. Every page works without this file
// (and without htmx and Alpine.js); with them, filters and forms update in place, progress
// and logs refresh themselves, and the charts are drawn. No inline script anywhere: the
// Content-Security-Policy allows only files served by the bridge.
'use strict';

(function () {
  document.documentElement.classList.add('js');

  // --- Alpine.js components (the CSP build: expressions in attributes name these members) --
  document.addEventListener('alpine:init', function () {
    window.Alpine.data('siteNav', function () {
      return {
        open: false,
        toggle: function () { this.open = !this.open; },
        get expanded() { return this.open ? 'true' : 'false'; },
        get navClass() { return this.open ? 'open' : 'closed'; },
      };
    });
    window.Alpine.data('dirtyForm', function () {
      return {
        dirty: false,
        markDirty: function () { this.dirty = true; },
      };
    });
    window.Alpine.data('copySecret', function () {
      return {
        message: '',
        unsupported: !(navigator.clipboard && window.isSecureContext),
        select: function (event) { event.target.select(); },
        copy: function () {
          var self = this;
          navigator.clipboard.writeText(this.$refs.secret.value).then(function () {
            self.message = 'Copied to the clipboard.';
          }, function () {
            self.message = 'Could not copy: select the text and copy it yourself.';
          });
        },
      };
    });
  });

  // --- Charts (uPlot) -----------------------------------------------------------------------
  var palette = ['#1d4ed8', '#b45309', '#047857', '#be185d', '#6d28d9', '#0e7490', '#4d7c0f', '#b91c1c', '#4b5563'];

  function chartOptions(kind, stats, width) {
    var series = [{ label: 'Time' }];
    var data = [stats.buckets || []];
    if (kind === 'calls') {
      (stats.clients || []).forEach(function (client, i) {
        series.push({ label: client.client, stroke: palette[i % palette.length], width: 2,
                      points: { show: false } });
        data.push(client.series);
      });
    } else {
      var latency = stats.latency_ms || {};
      [['p50', 0], ['p95', 1], ['p99', 7]].forEach(function (p) {
        series.push({ label: p[0], stroke: palette[p[1]], width: 2, spanGaps: true, points: { show: true, size: 5 },
                      value: function (u, v) { return v == null ? '–' : v.toFixed(1) + ' ms'; } });
        data.push(latency[p[0]] || []);
      });
    }
    return {
      options: {
        width: width,
        height: 220,
        series: series,
        scales: { x: { time: true } },
        axes: [{}, { label: kind === 'calls' ? 'calls' : 'ms', size: 60 }],
        cursor: { drag: { x: false, y: false } },
      },
      data: data,
    };
  }

  function drawChart(box) {
    if (typeof window.uPlot !== 'function') return;
    var stats;
    try { stats = JSON.parse(box.getAttribute('data-stats')); } catch (e) { return; }
    if (box.uplot) { box.uplot.destroy(); box.uplot = null; }
    box.textContent = '';
    if (!stats || !stats.totals || !stats.totals.calls) {
      var empty = document.createElement('p');
      empty.className = 'empty';
      empty.textContent = 'No calls in this time range.';
      box.appendChild(empty);
      return;
    }
    var chart = chartOptions(box.getAttribute('data-chart'), stats, Math.max(240, box.clientWidth || 600));
    box.uplot = new window.uPlot(chart.options, chart.data, box);
  }

  function drawCharts(root) {
    if (!root.querySelectorAll) return;
    var boxes = root.matches && root.matches('[data-chart]') ? [root] : root.querySelectorAll('[data-chart]');
    Array.prototype.forEach.call(boxes, drawChart);
  }

  var resizeTimer = null;
  window.addEventListener('resize', function () {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(function () { drawCharts(document); }, 200);
  });

  // --- htmx ---------------------------------------------------------------------------------
  function start() {
    if (window.htmx) {
      window.htmx.onLoad(drawCharts);  // the page at start, then every swapped-in fragment
    } else {
      drawCharts(document);
    }
  }
  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', start);
  } else {
    start();
  }

  // After a boosted navigation, start keyboard and screen-reader users at the new content,
  // or at the error it reports.
  document.addEventListener('htmx:afterSettle', function (event) {
    if (!event.detail || !event.detail.boosted) return;
    var target = document.getElementById('error-box') || document.getElementById('main');
    if (target) target.focus({ preventScroll: false });
  });
})();
