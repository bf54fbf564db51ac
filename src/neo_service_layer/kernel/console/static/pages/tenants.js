// Tenants and members. A platform admin lists and creates tenants and may open any tenant's members;
// a tenant user sees its own tenant. Adding and removing members needs tenants:admin.

import { api, get, hasScope, seg, session } from "../api.js";
import { confirmButton, el, field, form, notice, problemText, replace, section, select, table, when } from "../ui.js";

const ROLES = ["owner", "admin", "developer", "operator", "auditor", "viewer"];

export const page = {
  id: "tenants",
  title: "Tenants & members",
  scopes: ["members:read", "platform:admin"],
  async render(root) {
    const members = el("div");
    const show = (tenant) =>
      renderMembers(members, tenant).catch((e) => replace(members, notice("error", problemText(e))));
    if (hasScope("platform:admin")) {
      // the platform's own session tenant has no members to show: the operator picks a tenant
      root.append(await tenantList(show), members);
      members.append(el("p", { class: "help" }, "Choose a tenant's Members to see and manage them."));
      return;
    }
    root.append(await ownTenant(), members);
    await show(session().tenant);
  },
};

async function ownTenant() {
  const tenant = await get(`/tenants/${seg(session().tenant)}`);
  return section("Tenant", facts(tenant));
}

function facts(tenant) {
  return el(
    "dl",
    { class: "facts" },
    el("dt", {}, "Name"),
    el("dd", {}, tenant.name),
    el("dt", {}, "Id"),
    el("dd", {}, el("code", {}, tenant.id)),
    el("dt", {}, "Plan"),
    el("dd", {}, tenant.plan),
    el("dt", {}, "Active"),
    el("dd", {}, tenant.active ? "yes" : "no"),
    el("dt", {}, "Created"),
    el("dd", {}, when(tenant.created_at)),
  );
}

async function tenantList(show) {
  const list = el("div");
  const load = async () => {
    const tenants = await get("/tenants");
    replace(
      list,
      table(
        "Every tenant of this installation",
        [
          { title: "Name", cell: (t) => t.name },
          { title: "Id", cell: (t) => el("code", {}, t.id) },
          { title: "Plan", cell: (t) => t.plan },
          { title: "Active", cell: (t) => (t.active ? "yes" : "no") },
          { title: "Created", cell: (t) => when(t.created_at) },
          {
            title: "Members",
            cell: (t) =>
              el("button", { type: "button", class: "secondary", "aria-label": `Members of ${t.name}`, onclick: () => show(t.id) }, "Members"),
          },
        ],
        tenants,
      ),
    );
  };
  const create = form(
    "Create a tenant",
    [field("Tenant name", { name: "name", required: true, minlength: 2, maxlength: 63 }), field("Plan", { name: "plan", value: "default" })],
    "Create tenant",
    async (v) => {
      await api("POST", "/tenants", { name: v.name.trim(), plan: v.plan.trim() || "default" });
      await load();
    },
  );
  await load();
  return section("Tenants", create, list);
}

async function renderMembers(container, tenantId) {
  const alert = el("div");
  const rows = await get(`/tenants/${seg(tenantId)}/members`);
  const admin = hasScope("tenants:admin");
  const reload = () => renderMembers(container, tenantId);
  const columns = [
    { title: "User", cell: (m) => m.username },
    { title: "Role", cell: (m) => el("span", { class: "badge" }, m.role) },
    { title: "Since", cell: (m) => when(m.created_at) },
  ];
  if (admin) {
    columns.push({
      title: "Actions",
      cell: (m) =>
        confirmButton("Remove", `Remove member ${m.username}`, async () => {
          await api("DELETE", `/tenants/${seg(tenantId)}/members/${seg(m.user_id)}`);
          await reload();
        }, alert),
    });
  }
  const parts = [el("p", { class: "help" }, "Tenant ", el("code", {}, tenantId)), alert];
  if (admin) {
    parts.push(
      form(
        "Add a member",
        [
          field("User name", { name: "username", required: true, minlength: 3, autocomplete: "off" }),
          select("Role", "role", ROLES.map((r) => [r, r])),
          field("Password (new accounts only)", { name: "password", type: "password", autocomplete: "new-password" }),
        ],
        "Add member",
        async (v) => {
          const body = { username: v.username.trim(), role: v.role };
          if (v.password) body.password = v.password;
          await api("POST", `/tenants/${seg(tenantId)}/members`, body);
          await reload();
        },
      ),
    );
  }
  parts.push(table(`Members of tenant ${tenantId}`, columns, rows));
  replace(container, section("Members", ...parts));
  if (!rows.length) container.append(notice("info", "No members."));
}
