// Signing in through the dashboard's form as a user does (Email, Password, Enter), with what the
// page showed when the dashboard does not arrive where expected.
import type { Page } from "playwright-core";

/** Fills the sign-in form, presses Enter and waits for `landing`; `context` adds the server's side to a failure. */
export async function signIn(page: Page, email: string, password: string, landing: RegExp, context: () => string = () => ""): Promise<void> {
  const logged: string[] = [];
  const onConsole = (m: { type(): string; text(): string }) => void logged.push(`${m.type()}: ${m.text()}`);
  page.on("console", onConsole);
  try {
    await page.getByLabel("Email").fill(email);
    await page.getByLabel("Password").fill(password);
    await page.getByLabel("Password").press("Enter");
    await page.waitForURL(landing, { timeout: 30_000 });
  } catch (error) {
    const shown = await page
      .evaluate(() => ({ url: location.href, heading: document.querySelector("h1")?.textContent, alert: document.querySelector("[role=alert]")?.textContent, button: document.querySelector("button[type=submit]")?.outerHTML, body: document.body.innerText.slice(0, 500) }))
      .catch((e: unknown) => String(e));
    throw new Error(`sign-in did not reach ${landing}: ${(error as Error).message}\npage: ${JSON.stringify(shown)}\nconsole: ${logged.slice(-10).join("\n")}\n${context()}`);
  } finally {
    page.off("console", onConsole);
  }
}
