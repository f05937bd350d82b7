/**
 * The settings screens: general (client) settings, one's own account,
 * users, roles, API tokens, the audit log, the installed plugins and the
 * cluster's nodes. One
 * heading, then a tab strip of links; a tab the reader has no permission
 * for is not shown, and its address says why instead of failing.
 */
import { Outlet, type RouteObject } from "react-router";
import { useCan, type Permission } from "../../auth";
import { Needs } from "../../components/Needs";
import { PageHead } from "../../components/PageHead";
import { TabStrip, type Tab } from "../../components/TabStrip";
import { useT } from "../../i18n";
import "./settings.css";
import { Account } from "./Account";
import { Audit } from "./Audit";
import { General } from "./General";
import { Nodes } from "./Nodes";
import { Plugins } from "./Plugins";
import { Roles } from "./Roles";
import { Tokens } from "./Tokens";
import { Users } from "./Users";

function SettingsLayout() {
  const t = useT();
  const can = useCan();
  const tabs: (Tab & { permission?: Permission })[] = [
    { to: "/settings", label: t("settings.tab.general"), end: true },
    { to: "/settings/account", label: t("settings.tab.account") },
    { to: "/settings/users", label: t("settings.tab.users"), permission: "users:manage" },
    { to: "/settings/roles", label: t("settings.tab.roles"), permission: "users:manage" },
    { to: "/settings/tokens", label: t("settings.tab.tokens") },
    { to: "/settings/audit", label: t("settings.tab.audit"), permission: "audit:read" },
    { to: "/settings/plugins", label: t("settings.tab.plugins") },
    { to: "/settings/nodes", label: t("settings.tab.nodes") },
  ];
  return (
    <>
      <PageHead title={t("settings.title")} />
      <TabStrip label={t("settings.sections")} tabs={tabs.filter((tab) => !tab.permission || can(tab.permission))} />
      <Outlet />
    </>
  );
}

export const settingsRoutes: RouteObject[] = [
  {
    path: "settings",
    element: <SettingsLayout />,
    children: [
      { index: true, element: <General /> },
      { path: "account", element: <Account /> },
      {
        path: "users",
        element: (
          <Needs permission="users:manage">
            <Users />
          </Needs>
        ),
      },
      {
        path: "roles",
        element: (
          <Needs permission="users:manage">
            <Roles />
          </Needs>
        ),
      },
      { path: "tokens", element: <Tokens /> },
      {
        path: "audit",
        element: (
          <Needs permission="audit:read">
            <Audit />
          </Needs>
        ),
      },
      { path: "plugins", element: <Plugins /> },
      { path: "nodes", element: <Nodes /> },
    ],
  },
];
