-- The closed value sets of host/src/domain.rs, enforced on every write: a
-- status, kind or type column holds one of its enum's values and nothing
-- else, whoever writes it. A unit test (domain::tests) checks these lists
-- against the enums.
--
-- SQLite cannot ALTER TABLE ... ADD CONSTRAINT. The table-rebuild recipe
-- (create with the constraint, copy, drop, rename) is not used: the
-- server opens SQLite with foreign keys on and migrations run in a
-- transaction, where `PRAGMA foreign_keys` cannot be switched off, so
-- dropping backup_executions (or datasources, storage_locations,
-- notifications...) to rebuild it would cascade-delete the chunks, logs,
-- copies, work items and deliveries that refer to it. Triggers do the same
-- job without touching the tables: BEFORE INSERT and BEFORE UPDATE OF the
-- column, aborting with the column's name and its allowed values.
--
-- Triggers see new writes only, so the rows already there are checked
-- first, by copying each column into a scratch table whose CHECK
-- constraints are named after the columns: a value outside its set fails this
-- migration naming the column, instead of starting with a row the server
-- cannot read.

CREATE TEMP TABLE domain_check_existing (
    column_name TEXT NOT NULL,
    value TEXT,
    CONSTRAINT "datasources.status" CHECK (column_name <> 'datasources.status' OR value IS NULL OR value IN ('unknown', 'healthy', 'warning', 'critical')),
    CONSTRAINT "storage_locations.status" CHECK (column_name <> 'storage_locations.status' OR value IS NULL OR value IN ('unknown', 'healthy', 'unreachable')),
    CONSTRAINT "backup_jobs.storage_strategy" CHECK (column_name <> 'backup_jobs.storage_strategy' OR value IS NULL OR value IN ('fallback', 'replicate')),
    CONSTRAINT "backup_executions.operation" CHECK (column_name <> 'backup_executions.operation' OR value IS NULL OR value IN ('backup', 'restore', 'verification')),
    CONSTRAINT "backup_executions.trigger_type" CHECK (column_name <> 'backup_executions.trigger_type' OR value IS NULL OR value IN ('manual', 'scheduled')),
    CONSTRAINT "backup_executions.status" CHECK (column_name <> 'backup_executions.status' OR value IS NULL OR value IN ('queued', 'running', 'completed', 'failed', 'cancelled')),
    CONSTRAINT "backup_executions.backup_type" CHECK (column_name <> 'backup_executions.backup_type' OR value IS NULL OR value IN ('full')),
    CONSTRAINT "execution_storages.status" CHECK (column_name <> 'execution_storages.status' OR value IS NULL OR value IN ('pending', 'completed', 'failed', 'deleted')),
    CONSTRAINT "execution_logs.level" CHECK (column_name <> 'execution_logs.level' OR value IS NULL OR value IN ('debug', 'info', 'warn', 'error')),
    CONSTRAINT "health_checks.status" CHECK (column_name <> 'health_checks.status' OR value IS NULL OR value IN ('ok', 'timeout', 'auth_failed', 'unreachable', 'error')),
    CONSTRAINT "storage_health_checks.status" CHECK (column_name <> 'storage_health_checks.status' OR value IS NULL OR value IN ('ok', 'timeout', 'auth_failed', 'unreachable', 'error')),
    CONSTRAINT "notifications.type" CHECK (column_name <> 'notifications.type' OR value IS NULL OR value IN ('backup_completed', 'backup_failed', 'backup_skipped', 'restore_completed', 'restore_failed', 'verification_failed', 'connection_lost', 'connection_restored', 'storage_unreachable', 'cleanup_completed', 'plugin_failed')),
    CONSTRAINT "notifications.severity" CHECK (column_name <> 'notifications.severity' OR value IS NULL OR value IN ('info', 'warning', 'critical')),
    CONSTRAINT "notifications.entity_type" CHECK (column_name <> 'notifications.entity_type' OR value IS NULL OR value IN ('datasource', 'storage_location', 'backup_job', 'backup_execution')),
    CONSTRAINT "work_items.kind" CHECK (column_name <> 'work_items.kind' OR value IS NULL OR value IN ('backup', 'restore')),
    CONSTRAINT "work_items.status" CHECK (column_name <> 'work_items.status' OR value IS NULL OR value IN ('queued', 'running', 'done', 'failed', 'cancelled')),
    CONSTRAINT "notification_channels.min_severity" CHECK (column_name <> 'notification_channels.min_severity' OR value IS NULL OR value IN ('info', 'warning', 'critical')),
    CONSTRAINT "notification_deliveries.status" CHECK (column_name <> 'notification_deliveries.status' OR value IS NULL OR value IN ('pending', 'sending', 'delivered', 'failed', 'suppressed')),
    CONSTRAINT "notification_templates.type" CHECK (column_name <> 'notification_templates.type' OR value IS NULL OR value IN ('backup_completed', 'backup_failed', 'backup_skipped', 'restore_completed', 'restore_failed', 'verification_failed', 'connection_lost', 'connection_restored', 'storage_unreachable', 'cleanup_completed', 'plugin_failed')),
    CONSTRAINT "plugins.kind" CHECK (column_name <> 'plugins.kind' OR value IS NULL OR value IN ('engine', 'storage', 'notifier'))
);
INSERT INTO domain_check_existing SELECT 'datasources.status', status FROM datasources;
INSERT INTO domain_check_existing SELECT 'storage_locations.status', status FROM storage_locations;
INSERT INTO domain_check_existing SELECT 'backup_jobs.storage_strategy', storage_strategy FROM backup_jobs;
INSERT INTO domain_check_existing SELECT 'backup_executions.operation', operation FROM backup_executions;
INSERT INTO domain_check_existing SELECT 'backup_executions.trigger_type', trigger_type FROM backup_executions;
INSERT INTO domain_check_existing SELECT 'backup_executions.status', status FROM backup_executions;
INSERT INTO domain_check_existing SELECT 'backup_executions.backup_type', backup_type FROM backup_executions;
INSERT INTO domain_check_existing SELECT 'execution_storages.status', status FROM execution_storages;
INSERT INTO domain_check_existing SELECT 'execution_logs.level', level FROM execution_logs;
INSERT INTO domain_check_existing SELECT 'health_checks.status', status FROM health_checks;
INSERT INTO domain_check_existing SELECT 'storage_health_checks.status', status FROM storage_health_checks;
INSERT INTO domain_check_existing SELECT 'notifications.type', type FROM notifications;
INSERT INTO domain_check_existing SELECT 'notifications.severity', severity FROM notifications;
INSERT INTO domain_check_existing SELECT 'notifications.entity_type', entity_type FROM notifications;
INSERT INTO domain_check_existing SELECT 'work_items.kind', kind FROM work_items;
INSERT INTO domain_check_existing SELECT 'work_items.status', status FROM work_items;
INSERT INTO domain_check_existing SELECT 'notification_channels.min_severity', min_severity FROM notification_channels;
INSERT INTO domain_check_existing SELECT 'notification_deliveries.status', status FROM notification_deliveries;
INSERT INTO domain_check_existing SELECT 'notification_templates.type', type FROM notification_templates;
INSERT INTO domain_check_existing SELECT 'plugins.kind', kind FROM plugins;
DROP TABLE domain_check_existing;

CREATE TRIGGER datasources_status_check_insert BEFORE INSERT ON datasources
WHEN NEW.status NOT IN ('unknown', 'healthy', 'warning', 'critical')
BEGIN SELECT RAISE(ABORT, 'datasources.status: not one of unknown, healthy, warning, critical'); END;
CREATE TRIGGER datasources_status_check_update BEFORE UPDATE OF status ON datasources
WHEN NEW.status NOT IN ('unknown', 'healthy', 'warning', 'critical')
BEGIN SELECT RAISE(ABORT, 'datasources.status: not one of unknown, healthy, warning, critical'); END;
CREATE TRIGGER storage_locations_status_check_insert BEFORE INSERT ON storage_locations
WHEN NEW.status NOT IN ('unknown', 'healthy', 'unreachable')
BEGIN SELECT RAISE(ABORT, 'storage_locations.status: not one of unknown, healthy, unreachable'); END;
CREATE TRIGGER storage_locations_status_check_update BEFORE UPDATE OF status ON storage_locations
WHEN NEW.status NOT IN ('unknown', 'healthy', 'unreachable')
BEGIN SELECT RAISE(ABORT, 'storage_locations.status: not one of unknown, healthy, unreachable'); END;
CREATE TRIGGER backup_jobs_storage_strategy_check_insert BEFORE INSERT ON backup_jobs
WHEN NEW.storage_strategy NOT IN ('fallback', 'replicate')
BEGIN SELECT RAISE(ABORT, 'backup_jobs.storage_strategy: not one of fallback, replicate'); END;
CREATE TRIGGER backup_jobs_storage_strategy_check_update BEFORE UPDATE OF storage_strategy ON backup_jobs
WHEN NEW.storage_strategy NOT IN ('fallback', 'replicate')
BEGIN SELECT RAISE(ABORT, 'backup_jobs.storage_strategy: not one of fallback, replicate'); END;
CREATE TRIGGER backup_executions_operation_check_insert BEFORE INSERT ON backup_executions
WHEN NEW.operation NOT IN ('backup', 'restore', 'verification')
BEGIN SELECT RAISE(ABORT, 'backup_executions.operation: not one of backup, restore, verification'); END;
CREATE TRIGGER backup_executions_operation_check_update BEFORE UPDATE OF operation ON backup_executions
WHEN NEW.operation NOT IN ('backup', 'restore', 'verification')
BEGIN SELECT RAISE(ABORT, 'backup_executions.operation: not one of backup, restore, verification'); END;
CREATE TRIGGER backup_executions_trigger_type_check_insert BEFORE INSERT ON backup_executions
WHEN NEW.trigger_type NOT IN ('manual', 'scheduled')
BEGIN SELECT RAISE(ABORT, 'backup_executions.trigger_type: not one of manual, scheduled'); END;
CREATE TRIGGER backup_executions_trigger_type_check_update BEFORE UPDATE OF trigger_type ON backup_executions
WHEN NEW.trigger_type NOT IN ('manual', 'scheduled')
BEGIN SELECT RAISE(ABORT, 'backup_executions.trigger_type: not one of manual, scheduled'); END;
CREATE TRIGGER backup_executions_status_check_insert BEFORE INSERT ON backup_executions
WHEN NEW.status NOT IN ('queued', 'running', 'completed', 'failed', 'cancelled')
BEGIN SELECT RAISE(ABORT, 'backup_executions.status: not one of queued, running, completed, failed, cancelled'); END;
CREATE TRIGGER backup_executions_status_check_update BEFORE UPDATE OF status ON backup_executions
WHEN NEW.status NOT IN ('queued', 'running', 'completed', 'failed', 'cancelled')
BEGIN SELECT RAISE(ABORT, 'backup_executions.status: not one of queued, running, completed, failed, cancelled'); END;
CREATE TRIGGER backup_executions_backup_type_check_insert BEFORE INSERT ON backup_executions
WHEN NEW.backup_type NOT IN ('full')
BEGIN SELECT RAISE(ABORT, 'backup_executions.backup_type: not one of full'); END;
CREATE TRIGGER backup_executions_backup_type_check_update BEFORE UPDATE OF backup_type ON backup_executions
WHEN NEW.backup_type NOT IN ('full')
BEGIN SELECT RAISE(ABORT, 'backup_executions.backup_type: not one of full'); END;
CREATE TRIGGER execution_storages_status_check_insert BEFORE INSERT ON execution_storages
WHEN NEW.status NOT IN ('pending', 'completed', 'failed', 'deleted')
BEGIN SELECT RAISE(ABORT, 'execution_storages.status: not one of pending, completed, failed, deleted'); END;
CREATE TRIGGER execution_storages_status_check_update BEFORE UPDATE OF status ON execution_storages
WHEN NEW.status NOT IN ('pending', 'completed', 'failed', 'deleted')
BEGIN SELECT RAISE(ABORT, 'execution_storages.status: not one of pending, completed, failed, deleted'); END;
CREATE TRIGGER execution_logs_level_check_insert BEFORE INSERT ON execution_logs
WHEN NEW.level NOT IN ('debug', 'info', 'warn', 'error')
BEGIN SELECT RAISE(ABORT, 'execution_logs.level: not one of debug, info, warn, error'); END;
CREATE TRIGGER execution_logs_level_check_update BEFORE UPDATE OF level ON execution_logs
WHEN NEW.level NOT IN ('debug', 'info', 'warn', 'error')
BEGIN SELECT RAISE(ABORT, 'execution_logs.level: not one of debug, info, warn, error'); END;
CREATE TRIGGER health_checks_status_check_insert BEFORE INSERT ON health_checks
WHEN NEW.status NOT IN ('ok', 'timeout', 'auth_failed', 'unreachable', 'error')
BEGIN SELECT RAISE(ABORT, 'health_checks.status: not one of ok, timeout, auth_failed, unreachable, error'); END;
CREATE TRIGGER health_checks_status_check_update BEFORE UPDATE OF status ON health_checks
WHEN NEW.status NOT IN ('ok', 'timeout', 'auth_failed', 'unreachable', 'error')
BEGIN SELECT RAISE(ABORT, 'health_checks.status: not one of ok, timeout, auth_failed, unreachable, error'); END;
CREATE TRIGGER storage_health_checks_status_check_insert BEFORE INSERT ON storage_health_checks
WHEN NEW.status NOT IN ('ok', 'timeout', 'auth_failed', 'unreachable', 'error')
BEGIN SELECT RAISE(ABORT, 'storage_health_checks.status: not one of ok, timeout, auth_failed, unreachable, error'); END;
CREATE TRIGGER storage_health_checks_status_check_update BEFORE UPDATE OF status ON storage_health_checks
WHEN NEW.status NOT IN ('ok', 'timeout', 'auth_failed', 'unreachable', 'error')
BEGIN SELECT RAISE(ABORT, 'storage_health_checks.status: not one of ok, timeout, auth_failed, unreachable, error'); END;
CREATE TRIGGER notifications_type_check_insert BEFORE INSERT ON notifications
WHEN NEW.type NOT IN ('backup_completed', 'backup_failed', 'backup_skipped', 'restore_completed', 'restore_failed', 'verification_failed', 'connection_lost', 'connection_restored', 'storage_unreachable', 'cleanup_completed', 'plugin_failed')
BEGIN SELECT RAISE(ABORT, 'notifications.type: not one of backup_completed, backup_failed, backup_skipped, restore_completed, restore_failed, verification_failed, connection_lost, connection_restored, storage_unreachable, cleanup_completed, plugin_failed'); END;
CREATE TRIGGER notifications_type_check_update BEFORE UPDATE OF type ON notifications
WHEN NEW.type NOT IN ('backup_completed', 'backup_failed', 'backup_skipped', 'restore_completed', 'restore_failed', 'verification_failed', 'connection_lost', 'connection_restored', 'storage_unreachable', 'cleanup_completed', 'plugin_failed')
BEGIN SELECT RAISE(ABORT, 'notifications.type: not one of backup_completed, backup_failed, backup_skipped, restore_completed, restore_failed, verification_failed, connection_lost, connection_restored, storage_unreachable, cleanup_completed, plugin_failed'); END;
CREATE TRIGGER notifications_severity_check_insert BEFORE INSERT ON notifications
WHEN NEW.severity NOT IN ('info', 'warning', 'critical')
BEGIN SELECT RAISE(ABORT, 'notifications.severity: not one of info, warning, critical'); END;
CREATE TRIGGER notifications_severity_check_update BEFORE UPDATE OF severity ON notifications
WHEN NEW.severity NOT IN ('info', 'warning', 'critical')
BEGIN SELECT RAISE(ABORT, 'notifications.severity: not one of info, warning, critical'); END;
CREATE TRIGGER notifications_entity_type_check_insert BEFORE INSERT ON notifications
WHEN NEW.entity_type NOT IN ('datasource', 'storage_location', 'backup_job', 'backup_execution')
BEGIN SELECT RAISE(ABORT, 'notifications.entity_type: not one of datasource, storage_location, backup_job, backup_execution'); END;
CREATE TRIGGER notifications_entity_type_check_update BEFORE UPDATE OF entity_type ON notifications
WHEN NEW.entity_type NOT IN ('datasource', 'storage_location', 'backup_job', 'backup_execution')
BEGIN SELECT RAISE(ABORT, 'notifications.entity_type: not one of datasource, storage_location, backup_job, backup_execution'); END;
CREATE TRIGGER work_items_kind_check_insert BEFORE INSERT ON work_items
WHEN NEW.kind NOT IN ('backup', 'restore')
BEGIN SELECT RAISE(ABORT, 'work_items.kind: not one of backup, restore'); END;
CREATE TRIGGER work_items_kind_check_update BEFORE UPDATE OF kind ON work_items
WHEN NEW.kind NOT IN ('backup', 'restore')
BEGIN SELECT RAISE(ABORT, 'work_items.kind: not one of backup, restore'); END;
CREATE TRIGGER work_items_status_check_insert BEFORE INSERT ON work_items
WHEN NEW.status NOT IN ('queued', 'running', 'done', 'failed', 'cancelled')
BEGIN SELECT RAISE(ABORT, 'work_items.status: not one of queued, running, done, failed, cancelled'); END;
CREATE TRIGGER work_items_status_check_update BEFORE UPDATE OF status ON work_items
WHEN NEW.status NOT IN ('queued', 'running', 'done', 'failed', 'cancelled')
BEGIN SELECT RAISE(ABORT, 'work_items.status: not one of queued, running, done, failed, cancelled'); END;
CREATE TRIGGER notification_channels_min_severity_check_insert BEFORE INSERT ON notification_channels
WHEN NEW.min_severity NOT IN ('info', 'warning', 'critical')
BEGIN SELECT RAISE(ABORT, 'notification_channels.min_severity: not one of info, warning, critical'); END;
CREATE TRIGGER notification_channels_min_severity_check_update BEFORE UPDATE OF min_severity ON notification_channels
WHEN NEW.min_severity NOT IN ('info', 'warning', 'critical')
BEGIN SELECT RAISE(ABORT, 'notification_channels.min_severity: not one of info, warning, critical'); END;
CREATE TRIGGER notification_deliveries_status_check_insert BEFORE INSERT ON notification_deliveries
WHEN NEW.status NOT IN ('pending', 'sending', 'delivered', 'failed', 'suppressed')
BEGIN SELECT RAISE(ABORT, 'notification_deliveries.status: not one of pending, sending, delivered, failed, suppressed'); END;
CREATE TRIGGER notification_deliveries_status_check_update BEFORE UPDATE OF status ON notification_deliveries
WHEN NEW.status NOT IN ('pending', 'sending', 'delivered', 'failed', 'suppressed')
BEGIN SELECT RAISE(ABORT, 'notification_deliveries.status: not one of pending, sending, delivered, failed, suppressed'); END;
CREATE TRIGGER notification_templates_type_check_insert BEFORE INSERT ON notification_templates
WHEN NEW.type NOT IN ('backup_completed', 'backup_failed', 'backup_skipped', 'restore_completed', 'restore_failed', 'verification_failed', 'connection_lost', 'connection_restored', 'storage_unreachable', 'cleanup_completed', 'plugin_failed')
BEGIN SELECT RAISE(ABORT, 'notification_templates.type: not one of backup_completed, backup_failed, backup_skipped, restore_completed, restore_failed, verification_failed, connection_lost, connection_restored, storage_unreachable, cleanup_completed, plugin_failed'); END;
CREATE TRIGGER notification_templates_type_check_update BEFORE UPDATE OF type ON notification_templates
WHEN NEW.type NOT IN ('backup_completed', 'backup_failed', 'backup_skipped', 'restore_completed', 'restore_failed', 'verification_failed', 'connection_lost', 'connection_restored', 'storage_unreachable', 'cleanup_completed', 'plugin_failed')
BEGIN SELECT RAISE(ABORT, 'notification_templates.type: not one of backup_completed, backup_failed, backup_skipped, restore_completed, restore_failed, verification_failed, connection_lost, connection_restored, storage_unreachable, cleanup_completed, plugin_failed'); END;
CREATE TRIGGER plugins_kind_check_insert BEFORE INSERT ON plugins
WHEN NEW.kind NOT IN ('engine', 'storage', 'notifier')
BEGIN SELECT RAISE(ABORT, 'plugins.kind: not one of engine, storage, notifier'); END;
CREATE TRIGGER plugins_kind_check_update BEFORE UPDATE OF kind ON plugins
WHEN NEW.kind NOT IN ('engine', 'storage', 'notifier')
BEGIN SELECT RAISE(ABORT, 'plugins.kind: not one of engine, storage, notifier'); END;
