"""Templates' `_()`: the translation in the request's language, markup kept, variables escaped into it."""

import flask
from flask_babel import refresh


def _render(app, source: str, **context) -> str:
    return app.jinja_env.from_string(source).render(**context)


def test_template_labels_follow_the_request_language(app):
    with app.test_request_context("/"):
        assert _render(app, '{{ _("Issues") }}') == "问题隐患"
    with app.test_request_context("/"):
        flask.session["locale"] = "en"
        assert _render(app, '{{ _("Issues") }}') == "Issues"


def test_a_language_change_within_a_request_is_seen(app):
    with app.test_request_context("/"):
        assert _render(app, '{{ _("Issues") }}') == "问题隐患"
        flask.session["locale"] = "en"
        refresh()  # Flask-Babel forgets the locale it chose: the next label must not come from the old catalogue
        assert _render(app, '{{ _("Issues") }}') == "Issues"


def test_variables_are_escaped_into_the_translation(app):
    with app.test_request_context("/"):
        flask.session["locale"] = "en"
        assert _render(app, '{{ _("%(n)d issues", n=3) }}') == "3 issues"
        out = _render(app, '{{ _("Unknown %(name)s", name=name) }}', name="<b>x</b>")
        assert out == "Unknown &lt;b&gt;x&lt;/b&gt;"
        # As Jinja's own new-style gettext: a message is always a format string, so "%%" is one "%".
        assert _render(app, '{{ _("100%% done") }}') == "100% done"
        assert _render(app, '{{ _("no placeholder") }}') == "no placeholder"


def test_outside_a_request_templates_speak_the_default_language(app):
    with app.app_context():
        assert _render(app, '{{ _("Issues") }}') == "问题隐患"


def test_trans_blocks_go_through_the_same_gettext(app):
    with app.test_request_context("/"):
        assert _render(app, "{% trans %}Issues{% endtrans %}") == "问题隐患"
        assert _render(app, '{% trans n="<b>" %}{{ n }} issues{% endtrans %}') == "&lt;b&gt; issues"
