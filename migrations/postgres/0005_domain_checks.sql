-- The closed value sets of host/src/domain.rs as CHECK constraints: a
-- status, kind or type column holds one of its enum's values and nothing
-- else, whoever writes it. ADD CONSTRAINT checks the rows already there, so
-- a database holding a value outside a set fails this migration naming the
-- constraint, instead of starting with a row the server cannot read.
-- A unit test (domain::tests) checks these lists against the enums.

ALTER TABLE datasources ADD CONSTRAINT datasources_status_check
    CHECK (status IN ('unknown', 'healthy', 'warning', 'critical'));
ALTER TABLE storage_locations ADD CONSTRAINT storage_locations_status_check
    CHECK (status IN ('unknown', 'healthy', 'unreachable'));
ALTER TABLE backup_jobs ADD CONSTRAINT backup_jobs_storage_strategy_check
    CHECK (storage_strategy IN ('fallback', 'replicate'));
ALTER TABLE backup_executions ADD CONSTRAINT backup_executions_operation_check
    CHECK (operation IN ('backup', 'restore', 'verification'));
ALTER TABLE backup_executions ADD CONSTRAINT backup_executions_trigger_type_check
    CHECK (trigger_type IN ('manual', 'scheduled'));
ALTER TABLE backup_executions ADD CONSTRAINT backup_executions_status_check
    CHECK (status IN ('queued', 'running', 'completed', 'failed', 'cancelled'));
ALTER TABLE backup_executions ADD CONSTRAINT backup_executions_backup_type_check
    CHECK (backup_type IN ('full'));
ALTER TABLE execution_storages ADD CONSTRAINT execution_storages_status_check
    CHECK (status IN ('pending', 'completed', 'failed', 'deleted'));
ALTER TABLE execution_logs ADD CONSTRAINT execution_logs_level_check
    CHECK (level IN ('debug', 'info', 'warn', 'error'));
ALTER TABLE health_checks ADD CONSTRAINT health_checks_status_check
    CHECK (status IN ('ok', 'timeout', 'auth_failed', 'unreachable', 'error'));
ALTER TABLE storage_health_checks ADD CONSTRAINT storage_health_checks_status_check
    CHECK (status IN ('ok', 'timeout', 'auth_failed', 'unreachable', 'error'));
ALTER TABLE notifications ADD CONSTRAINT notifications_type_check
    CHECK (type IN ('backup_completed', 'backup_failed', 'backup_skipped', 'restore_completed', 'restore_failed', 'verification_failed', 'connection_lost', 'connection_restored', 'storage_unreachable', 'cleanup_completed', 'plugin_failed'));
ALTER TABLE notifications ADD CONSTRAINT notifications_severity_check
    CHECK (severity IN ('info', 'warning', 'critical'));
ALTER TABLE notifications ADD CONSTRAINT notifications_entity_type_check
    CHECK (entity_type IN ('datasource', 'storage_location', 'backup_job', 'backup_execution'));
ALTER TABLE work_items ADD CONSTRAINT work_items_kind_check
    CHECK (kind IN ('backup', 'restore'));
ALTER TABLE work_items ADD CONSTRAINT work_items_status_check
    CHECK (status IN ('queued', 'running', 'done', 'failed', 'cancelled'));
ALTER TABLE notification_channels ADD CONSTRAINT notification_channels_min_severity_check
    CHECK (min_severity IN ('info', 'warning', 'critical'));
ALTER TABLE notification_deliveries ADD CONSTRAINT notification_deliveries_status_check
    CHECK (status IN ('pending', 'sending', 'delivered', 'failed', 'suppressed'));
ALTER TABLE notification_templates ADD CONSTRAINT notification_templates_type_check
    CHECK (type IN ('backup_completed', 'backup_failed', 'backup_skipped', 'restore_completed', 'restore_failed', 'verification_failed', 'connection_lost', 'connection_restored', 'storage_unreachable', 'cleanup_completed', 'plugin_failed'));
ALTER TABLE plugins ADD CONSTRAINT plugins_kind_check
    CHECK (kind IN ('engine', 'storage', 'notifier'));
