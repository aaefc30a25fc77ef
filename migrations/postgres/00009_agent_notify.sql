-- Every committed change to an agent's identity (its status, credential, name or work
-- version) is announced on the channel certctl_agents with the agent's ID, so that servers
-- can keep the identities of polling agents in memory and drop one the moment it changes.

-- +goose Up
-- +goose StatementBegin
CREATE FUNCTION notify_agent_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('certctl_agents', OLD.id);
    RETURN NULL;
END
$$;
-- +goose StatementEnd
-- Only changes to what an agent's identity holds: a heartbeat alone announces nothing.
CREATE TRIGGER agents_notify AFTER UPDATE ON agents FOR EACH ROW
    WHEN (OLD.status IS DISTINCT FROM NEW.status
          OR OLD.credential_hash IS DISTINCT FROM NEW.credential_hash
          OR OLD.work_version IS DISTINCT FROM NEW.work_version
          OR OLD.name IS DISTINCT FROM NEW.name)
    EXECUTE FUNCTION notify_agent_change();
CREATE TRIGGER agents_notify_delete AFTER DELETE ON agents
    FOR EACH ROW EXECUTE FUNCTION notify_agent_change();

-- +goose Down
DROP TRIGGER agents_notify_delete ON agents;
DROP TRIGGER agents_notify ON agents;
DROP FUNCTION notify_agent_change();
