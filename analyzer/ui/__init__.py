"""Streamlit pages (run through `app.py`); each page is a thin script over `store.Queries`."""
