"""Flask extensions, created unbound here and wired to an app by gridpatrol.create_app."""

from flask_babel import Babel
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect

from gridpatrol.core.db import Base
from gridpatrol.core.security import SecurityHeaders

db = SQLAlchemy(model_class=Base, session_options={"expire_on_commit": False})
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()
talisman = SecurityHeaders()  # Flask-Talisman, its per-endpoint work done once
