from tests import helpers


def test_home_requires_login(client):
    response = client.get("/")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_login_page_is_chinese_by_default(client):
    html = client.get("/login").get_data(as_text=True)
    assert 'lang="zh-CN"' in html
    assert "登录" in html


def test_logged_in_user_sees_home(client, staff):
    response = helpers.login(client, staff)
    assert response.status_code == 302
    html = client.get("/").get_data(as_text=True)
    assert "Staff1" in html

