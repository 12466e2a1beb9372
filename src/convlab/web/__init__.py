"""The local web playground (`convlab serve`): app.py is the API, static/ the page."""
