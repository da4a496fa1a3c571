"""The dashboards in `pulse serve`: their routes (`app.py`) and the figures behind them (`pages.py`, `compute.py`)."""
