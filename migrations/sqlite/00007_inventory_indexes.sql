-- Indexes for what the scheduler and the inventory gauges ask of every certificate of one
-- status: which Active ones have reached their renewal time, which are due for renewal
-- among those not already being renewed, and how many of a status end within a window.
-- Without them each of those walks every certificate of the status (or every due one,
-- renewals in progress included) on every tick.

-- +goose Up
CREATE INDEX certificates_status_renew_at ON certificates (status, renew_at)
    WHERE renew_at IS NOT NULL;
CREATE INDEX certificates_status_not_after ON certificates (status, not_after);

-- +goose Down
DROP INDEX certificates_status_not_after;
DROP INDEX certificates_status_renew_at;
