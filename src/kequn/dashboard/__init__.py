"""The dashboard 看板: server-rendered pages (Jinja2 + htmx, charts by ECharts), Chinese and
English, served by ``kequn serve`` beside the API."""
