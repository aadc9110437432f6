"""The only place in facedash that imports Streamlit: the app's caches and shared widgets."""
