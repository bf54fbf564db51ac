// Two-factor sign-in for a signed-in user who has none yet (a role that need not use it, such as a
// viewer, may sign in with the password alone): the same enrolment as at sign-in (enrol.js), with this
// session's token (every user token holds auth:mfa). Not in the navigation: the overview links here
// when the user signed in without a code. The API refuses to start it again once it is on.

import { session, signOut } from "../api.js";
import { renderEnrolment } from "../enrol.js";
import { el, replace, section } from "../ui.js";

export const page = {
  id: "two-factor",
  title: "Two-factor sign-in",
  scopes: ["auth:mfa"],
  nav: false,
  async render(root) {
    if (session().secondFactor !== false) {
      root.append(
        section(
          "Authenticator app",
          el("p", {}, "This session was signed in with a second factor: two-factor sign-in is on for this account."),
        ),
      );
      return;
    }
    const view = el("div");
    const start = el("button", { type: "button" }, "Set up two-factor sign-in");
    const intro = section(
      "Authenticator app",
      el(
        "p",
        {},
        "This account signs in with a password alone. With two-factor sign-in, every sign-in also asks for a six-digit code from an authenticator app on your phone or computer.",
      ),
      start,
    );
    start.addEventListener("click", () => {
      intro.hidden = true;
      renderEnrolment(view, {
        required: false,
        onDone: () => {
          window.location.hash = "#/overview";
        },
        onCancel: () => {
          replace(view);
          intro.hidden = false;
          start.focus();
        },
        // the session was refused (revoked meanwhile): drop it; the shell then shows the sign-in form
        onEnded: async () => {
          await signOut();
          window.location.hash = "#/overview";
        },
      });
    });
    root.append(intro, view);
  },
};
