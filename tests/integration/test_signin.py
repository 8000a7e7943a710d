"""Signing in on the web: passwords, lock-out, session expiry, CSRF, safe redirects."""

from __future__ import annotations

import re

from tests.factories import PASSWORD


def csrf_from(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def sign_in(client, username: str, password: str = PASSWORD, next_url: str = ""):
    token = csrf_from(client.get("/sign-in").get_data(as_text=True))
    return client.post("/sign-in", data={"csrf_token": token, "username": username,
                                         "password": password, "next": next_url})


def test_a_user_signs_in_and_sees_the_start_page(client, make):
    user = make.user("pharmacist")
    res = sign_in(client, user.username.upper())  # usernames are case-insensitive
    assert res.status_code == 302
    assert res.headers["Location"] == "/"
    page = client.get("/").get_data(as_text=True)
    assert user.username in page
    assert "pharmacist" in page
    from pharma.auditlog.models import AuditEntry
    from pharma.extensions import db

    entry = db.session.query(AuditEntry).filter_by(action="user.sign_in").one()
    assert (entry.user_id, entry.organisation_id, entry.address) == (user.id, user.organisation_id, "127.0.0.1")
    assert entry.request_id


def test_anonymous_visitors_are_sent_to_the_sign_in_page_and_back(client, make):
    user = make.user("regulator")
    res = client.get("/organisations")
    assert res.status_code == 302
    assert res.headers["Location"].startswith("/sign-in?next=")
    res = sign_in(client, user.username, next_url="/organisations?type=pharmacy")
    assert res.headers["Location"] == "/organisations?type=pharmacy"


def test_a_next_address_off_the_site_is_ignored(client, make):
    user = make.user("regulator")
    res = sign_in(client, user.username, next_url="//evil.example/phish")
    assert res.headers["Location"] == "/"


def test_a_wrong_password_is_refused_without_saying_which_part_was_wrong(client, make):
    user = make.user("pharmacist")
    res = sign_in(client, user.username, "not the password")
    assert res.status_code == 401
    assert "The username or password is wrong, or the account is disabled." in res.get_data(as_text=True)
    unknown = sign_in(client, "nobody-here", "not the password")
    assert unknown.status_code == 401


def test_five_failures_lock_the_username_even_for_the_right_password(client, make, app):
    user = make.user("pharmacist")
    limit = app.config["PHARMA"].signin_max_failures
    for _ in range(limit):
        assert sign_in(client, user.username, "wrong wrong wrong").status_code == 401
    res = sign_in(client, user.username, PASSWORD)
    assert res.status_code == 429
    assert "Too many failed sign-ins." in res.get_data(as_text=True)


def test_a_successful_sign_in_clears_earlier_failures(client, make):
    user = make.user("pharmacist")
    for _ in range(3):
        sign_in(client, user.username, "wrong wrong wrong")
    assert sign_in(client, user.username).status_code == 302
    client.post("/sign-out", data={"csrf_token": csrf_from(client.get("/").get_data(as_text=True))})
    for _ in range(3):
        sign_in(client, user.username, "wrong wrong wrong")
    assert sign_in(client, user.username).status_code == 302


def test_a_session_idle_longer_than_the_limit_ends(client, make, app):
    user = make.user("pharmacist")
    sign_in(client, user.username)
    assert client.get("/").status_code == 200
    with client.session_transaction() as sess:
        sess["seen"] -= app.config["PHARMA"].session_minutes * 60 + 1
    res = client.get("/")
    assert res.status_code == 302
    assert res.headers["Location"].startswith("/sign-in")


def test_a_form_post_without_the_csrf_token_is_refused(client, make):
    user = make.user("pharmacist")
    res = client.post("/sign-in", data={"username": user.username, "password": PASSWORD})
    assert res.status_code == 400
    assert "CSRF" in res.get_data(as_text=True)


def test_the_api_accepts_the_session_cookie_for_reads_but_writes_need_the_csrf_header(client, make):
    user = make.user("pharmacist")
    sign_in(client, user.username)
    assert client.get("/api/v1/parties/me").json["username"] == user.username
    res = client.post("/api/v1/parties/tokens", json={"name": "from the browser"})
    assert res.status_code == 400
    assert res.json["code"] == "BAD_REQUEST"
    assert "CSRF" in res.json["detail"]
    token = csrf_from(client.get("/tokens").get_data(as_text=True))
    res = client.post("/api/v1/parties/tokens", json={"name": "from the browser"},
                      headers={"X-CSRFToken": token})
    assert res.status_code == 201


def test_changing_the_password_ends_other_sessions(client, make, app):
    user = make.user("pharmacist")
    sign_in(client, user.username)
    other = app.test_client()
    sign_in(other, user.username)
    token = csrf_from(client.get("/account/password").get_data(as_text=True))
    res = client.post("/account/password", data={"csrf_token": token, "current_password": PASSWORD,
                                                  "new_password": "a brand new passphrase"})
    assert res.status_code == 302
    assert client.get("/").status_code == 200
    assert other.get("/").status_code == 302


def test_a_weak_new_password_is_refused(client, make):
    caller = make.caller("pharmacist")
    res = client.post("/api/v1/parties/me/password", headers=caller.headers,
                      json={"current_password": PASSWORD, "new_password": "short"})
    assert res.status_code == 422
    assert res.json["code"] == "PASSWORD_TOO_WEAK"


def test_a_token_is_shown_once_and_only_its_hash_is_stored(client, make, db_session):
    from pharma.parties.auth import token_hash
    from pharma.parties.models import ApiToken

    user = make.user("importer")
    sign_in(client, user.username)
    token = csrf_from(client.get("/tokens").get_data(as_text=True))
    page = client.post("/tokens", data={"csrf_token": token, "name": "erp", "days": "30"})
    shown = re.search(r'id="issued-token">([^<]+)<', page.get_data(as_text=True)).group(1)
    row = db_session.query(ApiToken).filter_by(name="erp").one()
    assert row.token_hash == token_hash(shown)
    assert shown not in client.get("/tokens").get_data(as_text=True)
    assert client.get("/api/v1/parties/me", headers={"Authorization": f"Bearer {shown}"}).status_code == 200


def test_a_bearer_token_call_opens_no_cookie_session_and_a_page_visit_still_does(client, make):
    import flask
    from flask.sessions import NullSession

    caller = make.caller("pharmacist")
    with client:
        res = client.get("/api/v1/parties/me", headers=caller.headers)
        assert res.status_code == 200 and isinstance(flask.session, NullSession)
    assert "Set-Cookie" not in res.headers
    user = make.user("pharmacist")
    with client:
        assert sign_in(client, user.username).status_code == 302
        assert not isinstance(flask.session, NullSession) and flask.session["uid"] == user.id
        res = client.get("/api/v1/parties/me", headers=caller.headers)  # the cookie comes too: a session
        assert not isinstance(flask.session, NullSession)
