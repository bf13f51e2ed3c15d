"""The vote statement's count no longer sends a NOTIFY; the worker that cast it announces it.

One NOTIFY per vote (migration 0009) made every worker's listener handle every vote, and made
the votes' commits queue up on PostgreSQL's notification lock. The vote statement now sets
pollsite.votes_announced for its own transaction, which the trigger skips; the worker applies
the counts it returned and announces them itself, once per poll and ANNOUNCE_SECONDS
(polls/poll_cache.py). Any other change to a choice, counts included (an editor merging
write-ins, an UPDATE in psql), sends the poll's id as before, which drops the poll everywhere:
counts announced by the workers only grow.
"""

from django.db import migrations

FORWARD = """
DROP TRIGGER polls_choice_changed ON polls_choice;
DROP FUNCTION polls_notify_choice_changed();
CREATE TRIGGER polls_choice_changed AFTER INSERT OR UPDATE OR DELETE ON polls_choice
    FOR EACH ROW
    WHEN (current_setting('pollsite.votes_announced', true) IS DISTINCT FROM 'on')
    EXECUTE FUNCTION polls_notify_poll_changed('poll_id');
"""

BACKWARD = """
CREATE FUNCTION polls_notify_choice_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND to_jsonb(NEW) - 'votes' = to_jsonb(OLD) - 'votes' THEN
        PERFORM pg_notify('poll_changed', NEW.poll_id || ' ' || NEW.id || ' ' || NEW.votes);
    ELSE
        PERFORM pg_notify('poll_changed', CASE WHEN TG_OP = 'DELETE'
            THEN OLD.poll_id ELSE NEW.poll_id END::text);
    END IF;
    RETURN NULL;
END
$$;
DROP TRIGGER polls_choice_changed ON polls_choice;
CREATE TRIGGER polls_choice_changed AFTER INSERT OR UPDATE OR DELETE ON polls_choice
    FOR EACH ROW EXECUTE FUNCTION polls_notify_choice_changed();
"""


class Migration(migrations.Migration):
    dependencies = [("polls", "0019_rate_limit_log_per_second")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
