"""The dashboards web app: `create_app` (Flask) and `serve` (waitress), behind `pulse serve`."""
