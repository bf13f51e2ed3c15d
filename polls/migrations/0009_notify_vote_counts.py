"""A vote's NOTIFY poll_changed carries the choice's new count: "<poll id> <choice id> <votes>".

Listeners (polls/poll_cache.py) then update that count in the poll they keep, instead of dropping
the poll and reading it again: during a burst every vote would otherwise send every worker back
to the database. Any other change to a choice still sends the poll's id alone, which drops it.
"""

from django.db import migrations

FORWARD = """
CREATE FUNCTION polls_notify_choice_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- Compared as whole rows, so that a column added later can never pass for a count.
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

BACKWARD = """
DROP TRIGGER polls_choice_changed ON polls_choice;
CREATE TRIGGER polls_choice_changed AFTER INSERT OR UPDATE OR DELETE ON polls_choice
    FOR EACH ROW EXECUTE FUNCTION polls_notify_poll_changed('poll_id');
DROP FUNCTION polls_notify_choice_changed();
"""


class Migration(migrations.Migration):
    dependencies = [("polls", "0008_ballot_poll_index_covered_by_constraints")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
