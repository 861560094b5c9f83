"""Logins and roles: passwords hashed, every query (by-id ones too) limited to the calls a role
covers, the app asking for a login once users exist and serving only this computer before."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from streamlit.testing.v1 import AppTest

from analyzer import access
from analyzer.cli import cli
from analyzer.errors import InputError
from analyzer.store import CallFilter, Queries, Store

ROOT = Path(__file__).parents[1]
PRIYA = {"acme-01", "acme-02", "acme-03", "hooli-01", "hooli-02", "hooli-03"}
ELENA = {f"{account}-0{n}" for account in ("northwind", "stark") for n in (1, 2, 3)}
PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def db(tmp_path_factory) -> Path:
    """The 24 sample calls from their transcripts, with a rep, a manager and a CS lead."""
    path = tmp_path_factory.mktemp("access") / "access.duckdb"
    gold = sorted(str(p) for p in (ROOT / "sample_calls" / "gold").glob("*.json"))
    result = CliRunner().invoke(cli, ["ingest", *gold, "--no-smart", "--db", str(path)])
    assert result.exit_code == 0, result.output
    store = Store(path)
    access.add_user(store, "Priya", "rep", rep="Priya Shah", team="East", password=PASSWORD)
    store.set_team("East", ["Elena Ruiz"])
    access.add_user(store, "dana", "manager", team="East", password=PASSWORD)
    access.add_user(store, "lee@example.com", "cs_lead")  # signs in through OIDC only
    return path


def test_passwords_are_stored_as_argon2id_hashes_and_checked(db):
    store = Store(db)
    stored = store.user("priya")["password_hash"]
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    assert access.check_password(store, " PRIYA ", PASSWORD) == access.User(
        "priya", "rep", "Priya Shah", "East"
    )
    assert access.check_password(store, "priya", PASSWORD + "!") is None
    assert access.check_password(store, "nobody", PASSWORD) is None
    assert access.check_password(store, "lee@example.com", "") is None  # no password at all


@pytest.mark.parametrize(
    ("role", "rep", "team", "password", "reason"),
    [
        ("rep", None, None, PASSWORD, "needs --rep"),
        ("manager", None, None, PASSWORD, "needs --team"),
        ("owner", None, None, PASSWORD, "unknown role"),
        ("cs_lead", None, None, "short", "at least 10 characters"),
    ],
)
def test_a_login_must_say_what_it_sees(store, role, rep, team, password, reason):
    with pytest.raises(InputError, match=reason):
        access.add_user(store, "x", role, rep=rep, team=team, password=password)
    assert store.users() == []


def test_throttle_pauses_a_name_after_repeated_failures():
    throttle = access.Throttle(max_failures=3, pause_s=600)
    for _ in range(2):
        throttle.failed("priya")
    assert throttle.wait_s("Priya") == 0
    throttle.failed("priya")
    assert 590 < throttle.wait_s("priya") <= 600
    assert throttle.wait_s("dana") == 0  # other names are not paused
    throttle.succeeded("priya")
    assert throttle.wait_s("priya") == 0


def call_ids(frame) -> set[str]:
    return set(frame["call_id"]) if not frame.empty else set()


@pytest.mark.parametrize(
    ("username", "visible"),
    [("priya", PRIYA), ("dana", PRIYA | ELENA), ("lee@example.com", None)],
)
def test_every_query_sees_only_the_calls_of_the_role(db, username, visible):
    store = Store(db)
    everything = call_ids(Queries(store).calls())
    assert len(everything) == 24
    visible = visible or everything
    directory = access.Directory.read(store)
    queries = Queries(store).scoped(directory.scope_for(directory.find(username)))

    assert call_ids(queries.calls()) == visible
    assert call_ids(queries.moments()) <= visible and call_ids(queries.moments())
    assert call_ids(queries.search("price")) <= visible
    accounts, totals, listed = queries.risk_inputs()
    seen = set(queries.calls()["account"])
    assert set(accounts["account"]) == seen and set(totals["account"]) <= seen
    assert call_ids(listed) | set(accounts["tone_call_id"].dropna()) <= visible
    names = {row.rep for row in store.frame("SELECT call_id, rep FROM calls").itertuples()
             if row.call_id in visible}  # fmt: skip
    assert set(queries.options()["reps"]) == names
    assert set(queries.rep_topics()["rep"]) <= names
    assert set(queries.rep_metrics()["rep"]) <= names
    # Asking for an account or a rep outside the scope by filter finds nothing either.
    assert call_ids(queries.calls(CallFilter(reps=("Tom Becker",)))) <= visible

    # By id: a call out of scope does not exist for this user.
    for call_id in ("acme-01", "globex-04"):
        shown = call_id in visible
        assert (queries.call(call_id) is not None) == shown
        assert (not queries.call_utterances(call_id).empty) == shown
        assert (not queries.call_mentions(call_id).empty) == shown
        assert (not queries.call_metrics(call_id).empty) == shown


def test_a_manager_sees_a_rep_added_to_the_team_at_once(tmp_path, db):
    store = Store(tmp_path / "copy.duckdb")
    store.path.write_bytes(db.read_bytes())
    directory = access.Directory.read(store)
    dana = directory.find("dana")
    assert directory.scope_for(dana).reps == ("Elena Ruiz", "Priya Shah")
    store.set_team("East", ["Tom Becker"])
    assert "Tom Becker" in access.Directory.read(store).scope_for(dana).reps


def test_users_cli(tmp_path):
    db = str(tmp_path / "cli.duckdb")
    runner = CliRunner()
    add = ["users", "add", "Dana", "--role", "manager", "--team", "West", "--password-stdin"]
    result = runner.invoke(cli, [*add, "--db", db], input=PASSWORD + "\n")
    assert result.exit_code == 0, result.output
    assert "login dana saved: Manager · West" in result.output
    result = runner.invoke(cli, ["users", "add", "x", "--role", "rep", "--sso", "--db", db])
    assert result.exit_code == 1 and "a rep login needs --rep" in result.output
    result = runner.invoke(cli, ["users", "team", "West", "Tom Becker", "--db", db])
    assert result.exit_code == 0 and "team West: Tom Becker" in result.output
    listed = runner.invoke(cli, ["users", "list", "--db", db]).output
    assert "dana" in listed and "manager" in listed and "Tom Becker" in listed
    assert PASSWORD not in listed and "argon2" not in listed
    assert runner.invoke(cli, ["users", "remove", "dana", "--db", db]).exit_code == 0
    result = runner.invoke(cli, ["users", "remove", "dana", "--db", db])
    assert result.exit_code == 1 and "no login named 'dana'" in result.output


# --- the app ---------------------------------------------------------------------------------


def sign_in(app: AppTest, username: str, password: str) -> AppTest:
    app.text_input(key="login_username").input(username)
    app.text_input(key="login_password").input(password)
    return app.button[0].click().run()


def test_the_app_asks_for_a_login_and_shows_nothing_before(open_page, db):
    app = open_page(db, call="acme-01")
    assert [title.value for title in app.title] == ["Call analyzer"]
    assert not app.dataframe and not app.metric and not app.chat_message
    sign_in(app, "priya", "wrong password!")
    assert app.error[0].value == "Wrong username or password."
    assert not app.dataframe


def test_a_rep_sees_their_own_calls_only(open_page, db):
    app = open_page(db)
    sign_in(app, "Priya", PASSWORD)
    assert not app.exception, app.exception
    assert app.title[0].value == "Team trends"
    assert app.metric[0].value == "6"  # calls
    assert set(app.dataframe[-1].value["rep"]) == {"Priya Shah"}
    assert "priya" in app.sidebar.caption[-1].value and "Rep · Priya Shah" in (
        app.sidebar.caption[-1].value
    )
    # Someone else's call by link: the page offers only Priya's calls and opens one of them.
    app.switch_page("analyzer/ui/call.py")
    app.query_params["call"] = "globex-04"
    app.run()
    assert not app.exception, app.exception
    options = app.selectbox[0].options
    assert len(options) == 6 and all("Acme" in o or "Hooli" in o for o in options), options
    assert app.title[0].value != "Renewal discussion"  # globex-04's title
    assert not any("Globex" in message.markdown[-1].value for message in app.chat_message)
    # Settings are not a rep's.
    with pytest.raises(ValueError, match="trackers"):
        app.switch_page("analyzer/ui/trackers.py").run()


def test_signing_out_ends_the_session(open_page, db):
    app = open_page(db)
    sign_in(app, "dana", PASSWORD)
    assert app.metric[0].value == "12"  # Priya's and Elena's calls
    app.switch_page("analyzer/ui/upload.py").run()
    reps = next(box for box in app.selectbox if box.label == "Rep")
    assert reps.options == ["Elena Ruiz", "Priya Shah"]  # a manager uploads for their team
    app.sidebar.button(key="sign_out").click().run()
    assert [title.value for title in app.title] == ["Call analyzer"]


def test_repeated_wrong_passwords_pause_the_name(open_page, db):
    app = open_page(db)
    for _ in range(access.MAX_FAILURES):
        sign_in(app, "dana", "not the password")
    sign_in(app, "dana", PASSWORD)  # even the right one, for a while
    assert app.error[0].value.startswith("Too many wrong passwords for 'dana'")
    assert not app.metric


def test_single_sign_on_maps_the_email_to_a_login(open_page, db):
    app = open_page(db)
    app.secrets["auth"] = {"redirect_uri": "http://localhost:8501/oauth2callback"}
    app.user = {"is_logged_in": True, "email": "lee@example.com"}
    app.run()
    assert not app.exception, app.exception
    assert app.title[0].value == "Accounts"  # a CS lead starts at the accounts
    assert "CS lead" in app.sidebar.caption[-1].value

    app.user = {"is_logged_in": True, "email": "stranger@example.com"}
    app.run()
    assert "stranger@example.com has no access" in app.error[0].value
    assert not app.dataframe


def test_without_logins_the_app_is_single_user_and_says_so(open_page, tmp_path):
    store = Store(tmp_path / "empty.duckdb")
    store.migrate()
    app = open_page(store.path)
    assert "Single-user mode" in app.sidebar.caption[0].value
    assert "No calls in" in app.info[0].value


def test_a_removed_login_is_signed_out_at_the_next_click(open_page, db, tmp_path):
    copy = tmp_path / "copy.duckdb"
    copy.write_bytes(db.read_bytes())
    app = open_page(copy)
    sign_in(app, "dana", PASSWORD)
    assert app.metric[0].value == "12"
    Store(copy).remove_user("dana")
    app.run()
    assert [title.value for title in app.title] == ["Call analyzer"] and not app.metric
