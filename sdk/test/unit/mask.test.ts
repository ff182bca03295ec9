import { beforeEach, describe, expect, it } from "vitest";
import { inputPayload } from "../../src/capture/input";
import { hasSensitiveText, isSecretField, mayRevealValue, scrub } from "../../src/dom/mask";
import { describeTarget } from "../../src/dom/target";

const $ = <T extends Element = HTMLInputElement>(s: string) => document.querySelector(s) as T;
const payload = (s: string, value: string) => {
  const el = $(s);
  el.value = value;
  return inputPayload(el, (u) => u);
};

describe("masking rules", () => {
  beforeEach(() => {
    document.body.innerHTML = `
      <input id="plain" />
      <input id="opted" data-gosight-unmask />
      <form data-gosight-unmask>
        <input id="nested" /><input id="pw" type="password" /><input id="mail" type="email" />
        <input id="cc" autocomplete="cc-number" /><input id="cardname" name="card_number" />
        <div data-gosight-mask><input id="remasked" /></div>
        <input id="box" type="checkbox" checked />
      </form>
      <textarea id="notes">draft</textarea>
      <button id="b">Pay <span data-gosight-mask>Jane Doe</span> now, receipt to jane@example.com</button>
      <a id="l" href="https://shop.example/x?token=abc"><b>${"long ".repeat(40)}</b></a>
      <div data-gosight-block><button id="blocked">Secret</button></div>`;
  });

  it("masks every input value by default", () => {
    expect(payload("#plain", "hello")).toMatchObject({ value: "", masked: true, valueLength: 5, inputType: "text" });
  });

  it("reveals values only under data-gosight-unmask", () => {
    expect(payload("#opted", "hello")).toMatchObject({ value: "hello", masked: false, valueLength: 5 });
    expect(payload("#nested", "blue")).toMatchObject({ value: "blue", masked: false });
    expect(inputPayload($("#box"), (u) => u)).toMatchObject({ value: "true", masked: false, inputType: "checkbox" });
  });

  it("always masks passwords, emails and card numbers, and data-gosight-mask wins over unmask", () => {
    expect(payload("#pw", "hunter2")).toMatchObject({ value: "", masked: true, valueLength: 7 });
    expect(payload("#mail", "jane")).toMatchObject({ value: "", masked: true });
    expect(payload("#cc", "1")).toMatchObject({ value: "", masked: true });
    expect(payload("#cardname", "1")).toMatchObject({ value: "", masked: true });
    expect(payload("#nested", "write to jane.doe@example.co.uk")).toMatchObject({ value: "", masked: true });
    expect(payload("#nested", "4111 1111 1111 1111")).toMatchObject({ value: "", masked: true });
    expect(payload("#nested", "4111-1111-1111-1111")).toMatchObject({ value: "", masked: true });
    expect(payload("#remasked", "x")).toMatchObject({ value: "", masked: true });
  });

  it("recognises sensitive text and fields", () => {
    expect(hasSensitiveText("order 12345, call 030 1234567")).toBe(false);
    expect(hasSensitiveText("5500000000000004")).toBe(true);
    expect(scrub("mail a.b@c.io or pay 4111 1111 1111 1111 today")).toBe("mail *** or pay *** today");
    expect(isSecretField($("#pw"))).toBe(true);
    expect(isSecretField($("#plain"))).toBe(false);
    expect(mayRevealValue($("#plain"), "x")).toBe(false);
  });

  it("never sends a field's content as element text", () => {
    expect(describeTarget($("#notes"), (u) => u).text).toBe("");
  });

  it("describes click targets without masked text, emails or blocked content", () => {
    const t = describeTarget($("#b"), (u) => u);
    expect(t).toMatchObject({ tag: "button", id: "b", selector: "#b", role: "button", text: "Pay now, receipt to ***" });
    expect(describeTarget($("#blocked"), (u) => u).text).toBe("");
  });

  it("cuts text at 100 characters and passes link URLs through the URL filter", () => {
    const t = describeTarget($("#l"), (u) => u.split("?")[0]!);
    expect(t.text).toHaveLength(100);
    expect(t.href).toBe("https://shop.example/x");
    expect(t.role).toBe("link");
  });
});
