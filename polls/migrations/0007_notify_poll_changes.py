"""NOTIFY poll_changed, with the poll's id, whenever a poll or one of its choices changes
(and with no id when articles or topics change, which every poll's sidebar shows).

Each worker keeps the polls readers see in memory (polls/poll_cache.py) and drops one the moment
this arrives. A trigger, rather than a call in the code, also covers the admin, bulk updates,
the vote statement and anything run in psql. PostgreSQL delivers it when the change commits.
"""

from django.db import migrations

FORWARD = """
CREATE FUNCTION polls_notify_poll_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- TG_ARGV[0] names the column holding the poll's id: id on polls, poll_id on choices.
    PERFORM pg_notify('poll_changed', CASE WHEN TG_OP = 'DELETE'
        THEN to_jsonb(OLD) ->> TG_ARGV[0] ELSE to_jsonb(NEW) ->> TG_ARGV[0] END);
    RETURN NULL;
END
$$;
-- Articles and topics make the sidebars of every poll's pages: an empty payload drops them all.
CREATE FUNCTION polls_notify_all_polls_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('poll_changed', '');
    RETURN NULL;
END
$$;
CREATE TRIGGER polls_poll_changed AFTER INSERT OR UPDATE OR DELETE ON polls_poll
    FOR EACH ROW EXECUTE FUNCTION polls_notify_poll_changed('id');
CREATE TRIGGER polls_choice_changed AFTER INSERT OR UPDATE OR DELETE ON polls_choice
    FOR EACH ROW EXECUTE FUNCTION polls_notify_poll_changed('poll_id');
CREATE TRIGGER polls_article_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON polls_article
    FOR EACH STATEMENT EXECUTE FUNCTION polls_notify_all_polls_changed();
CREATE TRIGGER polls_article_topics_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON polls_article_topics
    FOR EACH STATEMENT EXECUTE FUNCTION polls_notify_all_polls_changed();
CREATE TRIGGER polls_article_pinned_related_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON polls_article_pinned_related
    FOR EACH STATEMENT EXECUTE FUNCTION polls_notify_all_polls_changed();
CREATE TRIGGER polls_topic_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON polls_topic
    FOR EACH STATEMENT EXECUTE FUNCTION polls_notify_all_polls_changed();
"""

BACKWARD = """
DROP TRIGGER IF EXISTS polls_topic_changed ON polls_topic;
DROP TRIGGER IF EXISTS polls_article_pinned_related_changed ON polls_article_pinned_related;
DROP TRIGGER IF EXISTS polls_article_topics_changed ON polls_article_topics;
DROP TRIGGER IF EXISTS polls_article_changed ON polls_article;
DROP FUNCTION IF EXISTS polls_notify_all_polls_changed();
DROP TRIGGER IF EXISTS polls_choice_changed ON polls_choice;
DROP TRIGGER IF EXISTS polls_poll_changed ON polls_poll;
DROP FUNCTION IF EXISTS polls_notify_poll_changed();
"""


class Migration(migrations.Migration):
    dependencies = [("polls", "0006_poll_editors_group")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
