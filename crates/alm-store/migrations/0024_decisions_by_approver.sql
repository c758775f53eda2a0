-- 0024: an approver's own decisions, newest first (the approvals page's "decided before").
CREATE INDEX request_approvals_by_approver ON request_approvals (approver_id, decided_at);
