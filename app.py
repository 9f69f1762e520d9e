"""Streamlit entry: the operator console."""

import streamlit as st
from integrations import connect

st.set_page_config(page_title="Integrations console", layout="wide")
svc = connect()
st.title("Integrations")
st.dataframe(svc.overview()[["org_slug", "provider", "status", "cached_status", "drift", "credential_hint"]])
