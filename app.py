"""facedash: the dashboard's entry point (``streamlit run app.py``).

Lists the pages with ``st.navigation``, draws the shared sidebar, runs the page.
"""

import streamlit as st

from facedash.ui import state

st.set_page_config(page_title="facedash", page_icon=":material/face:", layout="wide")

PAGES = [
    st.Page("pages/data.py", title="Data", icon=":material/photo_library:", default=True),
    st.Page("pages/arithmetic.py", title="Arithmetic & search", icon=":material/calculate:"),
]

page = st.navigation(PAGES)
state.sidebar()
page.run()
