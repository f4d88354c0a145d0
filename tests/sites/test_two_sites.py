"""Two compounds in one installation: every page keeps to its site, and people keep to theirs."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from gridpatrol.accounts.models import User
from gridpatrol.extensions import db
from tests import helpers
from tests.sites.builders import PEOPLE

NAV_LINK = re.compile(r'<nav id="main-nav".*?</nav>', re.S)
HREF = re.compile(r'href="([^"]+)"')


def _client(app, username: str):
    client = app.test_client()
    response = helpers.login(client, helpers.Credentials(0, username, helpers.DEFAULT_PASSWORD))
    assert response.status_code == 302, f"{username} could not log in"
    return client


def _nav_links(html: str) -> list[str]:
    nav = NAV_LINK.search(html)
    return HREF.findall(nav.group(0)) if nav else []


def _sites_of(username: str) -> list[str]:
    site = PEOPLE[username][1]
    return ["TEST", "OTHER"] if site is None else [site]


@pytest.mark.parametrize("username", sorted(PEOPLE))
def test_every_page_in_the_navigation_answers_on_each_site_of_each_role(app, two_sites, username):
    client = _client(app, username)
    for code in _sites_of(username):
        home = client.get(f"/s/{code}/", follow_redirects=True)  # supervisors and admins land on the dashboard
        assert home.status_code == 200, f"{username} on {code}: home {home.status_code}"
        links = _nav_links(home.get_data(as_text=True))
        assert links, f"{username} sees no navigation on {code}"
        for link in links:
            if link.startswith("/s/"):
                assert link.startswith(f"/s/{code}/"), f"{username} on {code}: a link leads to another site: {link}"
            response = client.get(link, follow_redirects=True)
            assert response.status_code == 200, f"{username} on {code}: {link} answered {response.status_code}"


def test_the_root_opens_the_users_own_site(app, two_sites):
    assert _client(app, "boss_b").get("/").headers["Location"].endswith("/s/OTHER/")
    assert _client(app, "leader_a").get("/").headers["Location"].endswith("/s/TEST/")


@pytest.mark.parametrize("username,code", [("boss_a", "OTHER"), ("boss_b", "TEST"), ("leader_a", "OTHER"),
                                           ("clerk_b", "TEST"), ("fixer_a", "OTHER")])
def test_a_site_that_is_not_yours_is_refused_and_audited(app, two_sites, username, code):
    client = _client(app, username)
    before = len(helpers.audit_actions(app, "permission.denied"))
    assert client.get(f"/s/{code}/").status_code == 403
    denials = helpers.audit_actions(app, "permission.denied")
    assert len(denials) == before + 1 and denials[-1].detail["path"] == f"/s/{code}/"


def test_a_supervisor_of_one_site_is_refused_the_other_sites_objects(app, two_sites):
    other = two_sites["OTHER"]
    client = _client(app, "boss_a")
    refused = {
        "issue": f"/s/OTHER/issues/{other.issue_id}",
        "issue queue": "/s/OTHER/issues",
        "patrol": f"/s/OTHER/patrols/{other.patrol_id}",
        "plans": "/s/OTHER/plans",
        "plan": f"/s/OTHER/plans/{other.plan_id}",
        "points": "/s/OTHER/points/",
        "metrics": "/s/OTHER/issues/metrics",
        "grid": f"/s/OTHER/grids/{other.grid_id}",
    }
    for what, path in refused.items():
        assert client.get(path).status_code == 403, what
    token = helpers.csrf_token(client, f"/s/TEST/issues/{two_sites['TEST'].issue_id}")
    post = client.post(f"/s/OTHER/issues/{other.issue_id}/start", data={"csrf_token": token})
    assert post.status_code == 403
    paths = [e.detail["path"] for e in helpers.audit_actions(app, "permission.denied")]
    assert set(refused.values()) <= set(paths), "every refusal is in the audit log"
    # Through its own site's URLs the other site's objects do not exist.
    assert client.get(f"/s/TEST/issues/{other.issue_id}").status_code == 404
    assert client.get(f"/s/TEST/patrols/{other.patrol_id}").status_code == 404
    assert client.get(f"/s/TEST/plans/{other.plan_id}").status_code == 404


def test_lists_keep_to_their_site(app, two_sites):
    client = _client(app, "province")
    for code, other in (("TEST", "OTHER"), ("OTHER", "TEST")):
        queue = client.get(f"/s/{code}/issues").get_data(as_text=True)
        assert f"{code} 水龙头漏水" in queue and f"{other} 水龙头漏水" not in queue
        plans = client.get(f"/s/{code}/plans").get_data(as_text=True)
        assert f"/s/{code}/plans/{two_sites[code].plan_id}" in plans
        assert f"/plans/{two_sites[other].plan_id}\"" not in plans
        grids = client.get(f"/s/{code}/grids").get_data(as_text=True)
        assert f"/s/{code}/grids/{two_sites[code].grid_id}\"" in grids
        assert f"/grids/{two_sites[other].grid_id}\"" not in grids


def test_a_provincial_supervisor_sees_both_and_switches_between_them(app, two_sites):
    client = _client(app, "province")
    for code in ("TEST", "OTHER"):
        assert client.get(f"/s/{code}/issues/{two_sites[code].issue_id}").status_code == 200
        assert client.get(f"/s/{code}/patrols/{two_sites[code].patrol_id}").status_code == 200
    page = client.get("/s/TEST/issues").get_data(as_text=True)
    assert 'class="site-switch"' in page and 'href="/s/OTHER/issues"' in page
    # Someone with one site never sees the choice.
    assert 'class="site-switch"' not in _client(app, "boss_a").get("/s/TEST/issues").get_data(as_text=True)


def test_a_role_at_one_site_gives_nothing_at_the_other(app, two_sites):
    """Supervisor of TEST and staff of OTHER: at OTHER a staff member, who may not dispatch."""
    from gridpatrol.accounts import services as accounts
    from gridpatrol.core.roles import Role
    from gridpatrol.core.transaction import job_transaction

    with app.app_context(), job_transaction() as session:
        accounts.create_user(session, username="both", display_name="Both", password=helpers.DEFAULT_PASSWORD,
                             roles=[(Role.SUPERVISOR, two_sites["TEST"].site_id), (Role.STAFF, two_sites["OTHER"].site_id)])
    client = _client(app, "both")
    assert client.get("/s/TEST/plans").status_code == 200
    assert client.get("/s/OTHER/plans").status_code == 403
    assert client.get(f"/s/OTHER/issues/{two_sites['OTHER'].issue_id}").status_code == 403  # not theirs at OTHER
    nav = _nav_links(client.get("/s/OTHER/").get_data(as_text=True))
    assert "/s/OTHER/plans" not in nav and "/s/OTHER/report" in nav


def test_roles_are_given_per_site_by_the_admin_form_and_the_cli(app, two_sites):
    admin = _client(app, "root")
    response = helpers.post_form(admin, "/admin/users/new", {
        "username": "newboss", "display_name": "新主管", "roles": ["supervisor"], "site": str(two_sites["OTHER"].site_id),
        "password": "patrol2026!x"})
    assert response.status_code == 302
    result = helpers.run_cli(app, ["users", "create", "clihand", "--role", "staff", "--site", "test",
                                   "--password-stdin"], "patrol2026!y\n")
    assert result.exit_code == 0 and "at site TEST" in result.output
    refused = helpers.run_cli(app, ["users", "create", "nosite", "--role", "staff", "--site", "NOPE",
                                    "--password-stdin"], "patrol2026!y\n")
    assert refused.exit_code != 0 and "NOPE" in refused.output
    with app.app_context():
        rows = {u.username: [(r.role, r.site_id) for r in u.role_rows]
                for u in db.session.scalars(sa.select(User).where(User.username.in_(["newboss", "clihand"])))}
        assert rows == {"newboss": [("supervisor", two_sites["OTHER"].site_id)],
                        "clihand": [("staff", two_sites["TEST"].site_id)]}
        assert db.session.scalar(sa.select(sa.func.count()).select_from(User).where(User.username == "nosite")) == 0
    users_page = admin.get("/admin/users").get_data(as_text=True)
    assert "· OTHER" in users_page


def test_every_job_still_runs_one_site_when_the_others_data_is_inconsistent(app, two_sites):
    """OTHER's time zone is corrupted in the database (no service would accept it): every registered job fails
    for OTHER, says so in its heartbeat, and still does TEST's work in TEST's own transaction."""
    from gridpatrol.patrols.models import Patrol
    from gridpatrol.scheduler import jobs

    with app.app_context():
        db.session.execute(sa.text("UPDATE sites SET timezone = 'Mars/Olympus_Mons' WHERE code = 'OTHER'"))
        db.session.commit()
        before = dict(db.session.execute(sa.select(Patrol.site_id, sa.func.count(Patrol.id))
                                         .group_by(Patrol.site_id)).all())
    per_site = sorted(name for name, job in jobs.JOBS.items() if job.per_site)
    assert {"materialize", "mark_missed", "remind", "close_month"} <= set(per_site)
    failed = set()
    for name in per_site:
        result = helpers.run_cli(app, ["scheduler", "run-once", name, "--now", "2026-11-20T07:00:00+08:00"])
        assert "FAILED TEST" not in result.output, result.output
        if "FAILED OTHER" in result.output:
            assert result.exit_code == 1, f"{name}: {result.output}"
            failed.add(name)
        else:
            assert result.exit_code == 0, f"{name}: {result.output}"
    # The jobs that work with OTHER's local time fail there; the others had nothing of OTHER's to do.
    assert {"materialize", "mark_missed", "close_month"} <= failed
    with app.app_context():
        after = dict(db.session.execute(sa.select(Patrol.site_id, sa.func.count(Patrol.id))
                                        .group_by(Patrol.site_id)).all())
        beats = dict(db.session.execute(sa.text("SELECT job, last_ok FROM job_heartbeats")).all())
    assert after[two_sites["TEST"].site_id] > before[two_sites["TEST"].site_id], "TEST's patrols were still made"
    assert after[two_sites["OTHER"].site_id] == before[two_sites["OTHER"].site_id]
    assert {name: bool(beats[name]) for name in per_site} == {name: name not in failed for name in per_site}
