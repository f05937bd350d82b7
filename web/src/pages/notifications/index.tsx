/**
 * The notifications screens: the inbox, the channels notifications go
 * out through (with their deliveries), and the message templates. One
 * heading for the area, then a tab strip of links, so each tab has an
 * address of its own.
 */
import { Outlet, type RouteObject } from "react-router";
import { Needs } from "../../components/Needs";
import { PageHead } from "../../components/PageHead";
import { TabStrip } from "../../components/TabStrip";
import { useT } from "../../i18n";
import { Channels } from "./Channels";
import { Inbox } from "./Inbox";
import { Templates } from "./Templates";

function NotificationsLayout() {
  const t = useT();
  return (
    <>
      <PageHead title={t("notifications.title")} />
      <Needs permission="notifications:read">
        <TabStrip
          label={t("notifications.sections")}
          tabs={[
            { to: "/notifications", label: t("notifications.tab.inbox"), end: true },
            { to: "/notifications/channels", label: t("notifications.tab.channels") },
            { to: "/notifications/templates", label: t("notifications.tab.templates") },
          ]}
        />
        <Outlet />
      </Needs>
    </>
  );
}

export const notificationsRoutes: RouteObject[] = [
  {
    path: "notifications",
    element: <NotificationsLayout />,
    children: [
      { index: true, element: <Inbox /> },
      { path: "channels", element: <Channels /> },
      { path: "templates", element: <Templates /> },
      { path: "templates/:id", element: <Templates /> },
    ],
  },
];
