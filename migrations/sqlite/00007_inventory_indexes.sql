-- Indexes for what the scheduler and the inventory gauges ask of the certificates on every
-- tick: which Active ones have reached their renewal time, which are due for renewal among
-- those not already being renewed, which have no renewal time yet, how many of a status end
-- within a window, and which ends first. Without them each of those walks, or sorts, every
-- certificate of a status. The end is indexed by status as the lists sort it (certificates
-- not issued yet, with no end, last), like certificates_expiry without a status.

-- +goose Up
CREATE INDEX certificates_status_renew_at ON certificates (status, renew_at)
    WHERE renew_at IS NOT NULL;
CREATE INDEX certificates_unscheduled ON certificates (id)
    WHERE renew_at IS NULL AND current_version_id IS NOT NULL;
CREATE INDEX certificates_status_expiry ON certificates
    (status, coalesce(not_after, '9999-12-31 23:59:59.999999'), id);

-- +goose Down
DROP INDEX certificates_status_expiry;
DROP INDEX certificates_unscheduled;
DROP INDEX certificates_status_renew_at;
