"""The Streamlit dashboard's parts; ``app.py`` assembles the page from them."""
