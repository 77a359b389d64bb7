/**
 * The few pages the server writes itself: the login form and the page that
 * explains a refusal. Plain HTML with no script or inline style, so they
 * live under the same strict CSP as the dashboard.
 */

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} · crabtalk</title></head>
<body><main>
<h1>${escapeHtml(title)}</h1>
${body}
</main></body></html>
`;
}

/** The login form; `problem` is shown above it (a refused token, a used link). */
export function loginPage(problem?: string): string {
  const notice = problem ? `<p role="alert"><strong>${escapeHtml(problem)}</strong></p>\n` : "";
  return page(
    "Log in to crabtalk",
    `${notice}<p>On the machine running the daemon, run <code>crabtalk dashboard</code>: it prints (and opens) a one-time login link.</p>
<p>Or paste a remote access token (<code>crabtalk token create NAME --scope read|chat|admin</code>); the dashboard then has that token's scope.</p>
<form method="post" action="/login">
<label for="token">Token</label>
<input id="token" name="token" type="password" autocomplete="off" required>
<button type="submit">Log in</button>
</form>`,
  );
}

/** A refusal the browser shows as is (421 wrong host, 403 foreign origin, 401 used link). */
export function problemPage(title: string, message: string): string {
  return page(title, `<p>${escapeHtml(message)}</p>`);
}
