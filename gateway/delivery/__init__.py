"""Reliable webhook delivery: `model` (Delivery, RetryPolicy, the Outbox and Submitter seams), the
outboxes, the deliverer that drains them, the sender that retries and signs, and the delivery log.
It never renders a template or decides whether an event fires: handlers do that before submitting."""
