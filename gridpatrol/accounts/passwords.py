"""The password policy: what a person may choose as a password, and the words that explain it on the forms.

It applies wherever a person sets a password: the password page, the administrator's new-user and reset forms
and `gridpatrol users create`. The demo's accounts (their public password `demo2026`) and the test builders set
theirs through the services directly and are not judged by it.

A password is refused when it is
* only spaces, or one character repeated;
* shorter than PASSWORD_MIN_LENGTH (10): online guessing is throttled (login_limits), but a stolen database
  copy is not, and 10 characters is what a grid leader still types on a tablet in a corridor without giving up;
  the estimator below, not a composition rule, keeps out the guessable 10-character ones. NIST SP 800-63B asks
  for at least 8, and 15 where the password is the only factor; an operator can raise the setting;
* made of the username or the person's name (also as pinyin: 张伟 → zhangwei, zw), e.g. `staff1-2026`;
* scored below PASSWORD_MIN_SCORE (3 of 4) by zxcvbn, Dropbox's estimator (python port), which knows the common
  password lists, English words and names, keyboard patterns (`qwerty12`, `1qaz2wsx`), dates, repeats and
  l33t substitutions (`P@ssw0rd`), and is given the username and name as words of this user. Score 3 means
  about 10^8 guesses or more.

No rule about mixing digits, capitals or symbols: "three unrelated words and a number" passes and is easy to
remember, `Password1!` does not.
"""

from __future__ import annotations

import functools
import os
import re
from typing import Optional

from flask import current_app
from flask_babel import gettext as _
from zxcvbn import zxcvbn

from gridpatrol.core.errors import DomainError

# zxcvbn refuses longer input (its matching grows quickly with length); the start of a longer password is judged.
_ZXCVBN_MAX_LENGTH = 72
# Words of this application that make a password guessable for anyone who knows where it is used.
_APPLICATION_WORDS = ("gridpatrol", "网格巡查", "wanggexuncha")


def policy_hint() -> str:
    """The policy in one sentence, for the help text under every field where a password is set."""
    return _("At least %(n)d characters. Common passwords, keyboard patterns, repeated characters and passwords "
             "made of the username or name are refused; a few unrelated words with a number are easy to remember "
             "and hard to guess.", n=current_app.config["PASSWORD_MIN_LENGTH"])


@functools.lru_cache(maxsize=1)
def _pinyin():
    # As points/ranking.py does: only the characters' dictionary (~12 MB, not ~57 MB with the phrases), set before
    # pypinyin is first imported.
    os.environ.setdefault("PYPINYIN_NO_PHRASES", "1")
    os.environ.setdefault("PYPINYIN_NO_DICT_COPY", "1")
    from pypinyin import lazy_pinyin

    return functools.partial(lazy_pinyin, errors="ignore", strict=False)


def _name_words(username: str, display_name: Optional[str]) -> list[str]:
    """The username, the name, and the name as pinyin (whole and initials), lower case, without spaces."""
    words = [username, display_name or ""]
    if display_name:
        syllables = [s for s in _pinyin()(display_name) if s.isascii() and s.isalpha()]
        if syllables:
            words += ["".join(syllables), "".join(s[0] for s in syllables)]
    return [re.sub(r"\s+", "", w).lower() for w in words if w and w.strip()]


def check_new_password(password: str, *, username: str, display_name: Optional[str] = None) -> None:
    """Refuse (DomainError, with the reason in the user's language) a password a person chose that the policy
    does not accept."""
    cfg = current_app.config
    if not password.strip():
        raise DomainError(_("The password cannot be only spaces."))
    if len(password) < cfg["PASSWORD_MIN_LENGTH"]:
        raise DomainError(_("The password must have at least %(n)d characters.", n=cfg["PASSWORD_MIN_LENGTH"]))
    if len(set(password)) == 1:
        raise DomainError(_("The password cannot be one character repeated."))
    squeezed = re.sub(r"\s+", "", password).lower()
    words = _name_words(username, display_name)
    # Short Latin words (a two-letter username, initials) are left to the estimator: "contains zw" would refuse too
    # much. A Chinese name has two or three characters, and each is a word.
    if any(len(w) >= (3 if w.isascii() else 2) and w in squeezed or w == squeezed for w in words):
        raise DomainError(_("The password cannot contain the username or the person's name."))
    result = zxcvbn(password[:_ZXCVBN_MAX_LENGTH], user_inputs=[*words, *_APPLICATION_WORDS])
    if result["score"] < cfg["PASSWORD_MIN_SCORE"]:
        raise DomainError(_("This password is too easy to guess (a common password or close to one, a word or name, "
                            "a date, a keyboard pattern or a repetition). Choose a longer one, e.g. a few unrelated "
                            "words with a number."))
