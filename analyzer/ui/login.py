"""Sign-in for the app (run by app.py before any page): who is this, and which calls may they see.

The signed-in username lives in the server-side session only; a reload signs a password user
out. OIDC sessions (st.login) are Streamlit's own cookie."""

from __future__ import annotations

import ipaddress

import streamlit as st
from streamlit.errors import StreamlitSecretNotFoundError

from analyzer import access
from analyzer.access import LOCAL_USER, User
from analyzer.store import Scope, Store

_SIGNED_IN = "_signed_in"  # (User, Scope) for this run, set before the page runs


@st.cache_resource
def _throttle() -> access.Throttle:
    """Failed logins counted across every session of this app process."""
    return access.Throttle()


def sso_configured() -> bool:
    """Whether the deployment set up an OIDC provider ([auth] in .streamlit/secrets.toml)."""
    try:
        return "auth" in st.secrets
    except (StreamlitSecretNotFoundError, FileNotFoundError):
        return False


@st.cache_data(ttl=60, show_spinner=False)
def _directory(db_path: str, stamp: int) -> access.Directory:
    return access.Directory.read(Store(db_path))


def sign_in(store: Store) -> User:
    """The user of this session, after a login when logins are configured; stops the script
    with the sign-in form until then. Also records their scope for `signed_in()`."""
    directory = _directory(str(store.path), store.stamp())
    user = _resolve(store, directory)
    st.session_state[_SIGNED_IN] = (user, directory.scope_for(user))
    _account_box(user)
    return user


def signed_in() -> tuple[User, Scope]:
    """The user of this run and the calls they may see."""
    if _SIGNED_IN not in st.session_state:  # a page run without app.py: nobody
        st.error("Open the app through app.py.")
        st.stop()
    return st.session_state[_SIGNED_IN]


def _resolve(store: Store, directory: access.Directory) -> User:
    if not directory.configured:
        if not _from_this_computer():
            st.error(
                "No logins are configured, so this app only serves the computer it runs on. "
                "Its administrator can add logins with `analyzer users add`."
            )
            st.stop()
        return LOCAL_USER
    username = st.session_state.get("username")
    if username:
        user = directory.find(username)
        if user:
            return user
        del st.session_state["username"]  # removed since they signed in
    sso = sso_configured()
    if sso and st.user.is_logged_in:
        email = str(st.user.get("email") or "")
        user = directory.find(email) if email else None
        if user:
            return user
        st.error(
            f"{email or 'This account'} has no access to this app. Ask an administrator to run "
            f"`analyzer users add {email or 'EMAIL'} --role ... --sso`."
        )
        st.button("Log out", on_click=st.logout)
        st.stop()
    _login_form(store, sso)
    st.stop()


def _from_this_computer() -> bool:
    """Whether the browser connects over loopback. Streamlit gives the TCP peer's address, None
    for 127.0.0.1 and ::1 (and no address at all under AppTest, where there is no client)."""
    address = st.context.ip_address
    if not isinstance(address, str):
        return True
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def _login_form(store: Store, sso: bool) -> None:
    _, middle, _ = st.columns([1, 2, 1])
    with middle:
        _check_login(store, sso)


def _check_login(store: Store, sso: bool) -> None:
    st.title("Call analyzer")
    st.caption("Call recordings are customer data: sign in to see the calls your role covers.")
    with st.form("login"):
        username = st.text_input("Username", key="login_username")
        password = st.text_input("Password", type="password", key="login_password")
        submitted = st.form_submit_button("Sign in", type="primary")
    if sso:
        st.button("Sign in with single sign-on", on_click=st.login, icon=":material/key:")
    if not submitted:
        return
    throttle = _throttle()
    wait = throttle.wait_s(username)
    if wait > 0:
        st.error(f"Too many wrong passwords for {username!r}; try again in {wait:.0f} s.")
        return
    user = access.check_password(store, username, password)
    if user is None:
        throttle.failed(username)
        st.error("Wrong username or password.")
        return
    throttle.succeeded(username)
    st.session_state["username"] = user.username
    st.rerun()


def _sign_out() -> None:
    if st.session_state.pop("username", None) is None and sso_configured():
        st.logout()


def _account_box(user: User) -> None:
    with st.sidebar:
        if user is LOCAL_USER:
            st.caption(
                ":material/lock: Single-user mode: no logins are configured, so only this "
                "computer can open the app. To share it, add logins with `analyzer users add`."
            )
            return
        st.caption(f":material/person: **{user.username}** · {user.label}")
        st.button("Sign out", on_click=_sign_out, key="sign_out")
