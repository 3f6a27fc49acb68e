"""The app tier: every visit is counted in PostgreSQL and in Redis."""

import os
import time

import bottle
import psycopg2
import redis


def db():
    return psycopg2.connect(
        host=os.environ["DATABASE_HOST"],
        dbname=os.environ["DATABASE_NAME"],
        user=os.environ["DATABASE_USER"],
        password=os.environ["DATABASE_PASSWORD"],
        connect_timeout=5,
    )


cache = redis.Redis(host=os.environ["REDIS_HOST"], socket_timeout=5)


def init_schema():
    # db is healthy before the app starts (depends_on: service_healthy); retry a
    # little anyway, as an app should across a database restart.
    for attempt in range(30):
        try:
            with db() as conn, conn.cursor() as cur:
                cur.execute(
                    "CREATE TABLE IF NOT EXISTS visits ("
                    " id serial PRIMARY KEY, at timestamptz NOT NULL DEFAULT now())"
                )
            return
        except psycopg2.OperationalError as e:
            print(f"waiting for the database: {e}".strip(), flush=True)
            time.sleep(1)
    raise SystemExit("the database never answered")


@bottle.get("/health")
def health():
    return "ok\n"


@bottle.get("/")
def visit():
    with db() as conn, conn.cursor() as cur:
        cur.execute("INSERT INTO visits DEFAULT VALUES")
        cur.execute("SELECT count(*), current_setting('server_version') FROM visits")
        pg_visits, pg_version = cur.fetchone()
    redis_visits = cache.incr("visits")
    redis_version = cache.info("server")["redis_version"]
    proxy = bottle.request.headers.get("X-Proxied-By", "no proxy")
    bottle.response.content_type = "text/plain"
    return (
        f"hello from app-stack: {proxy} -> python {bottle.__name__} {bottle.__version__}"
        f" -> postgresql {pg_version} (visits: {pg_visits})"
        f" + redis {redis_version} (visits: {redis_visits})\n"
    )


if __name__ == "__main__":
    init_schema()
    bottle.run(host="0.0.0.0", port=8000, quiet=True)
