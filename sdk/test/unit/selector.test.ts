import { beforeEach, describe, expect, it } from "vitest";
import { selector } from "../../src/dom/selector";

const $ = (s: string) => document.querySelector(s)!;

describe("selector", () => {
  beforeEach(() => {
    document.body.innerHTML = `
      <div id="app">
        <ul><li>one</li><li><a href="/two">two</a></li><li>three</li></ul>
        <button id="buy" class="btn css-1x2y3z">Buy</button>
        <button data-testid="cancel">Cancel</button>
        <section>
          <p><span>a</span></p><p><span>b</span><em>c</em></p>
          <div id=":r1:"><b>react</b></div>
          <div id="item-12345"><i>gen</i></div>
          <div id="dup">1</div><div id="dup">2</div>
          <div id="we.ird:id"><i>x</i></div>
          <input name="email" /><input name="q" /><input name="q" />
        </section>
      </div>`;
  });

  it("uses a unique id", () => {
    expect(selector($("#buy"))).toBe("#buy");
  });

  it("uses test and data attributes", () => {
    expect(selector($("[data-testid=cancel]"))).toBe('button[data-testid="cancel"]');
    expect(selector($("input[name=email]"))).toBe('input[name="email"]');
  });

  it("builds an :nth-of-type path from the nearest anchor, without classes", () => {
    expect(selector($("li:nth-child(2) a"))).toBe("#app > ul > li:nth-of-type(2) > a");
    expect(selector($("p:nth-child(2) span"))).toBe("#app > section > p:nth-of-type(2) > span");
  });

  it("skips generated and duplicate ids, and non-unique attributes", () => {
    expect(selector($("b"))).toBe("#app > section > div:nth-of-type(1) > b");
    expect(selector($("[id='item-12345'] i"))).toBe("#app > section > div:nth-of-type(2) > i");
    expect(selector(document.querySelectorAll("[id=dup]")[1]!)).toBe("#app > section > div:nth-of-type(4)");
    expect(selector(document.querySelectorAll("input[name=q]")[1]!)).toBe("#app > section > input:nth-of-type(3)");
  });

  it("escapes ids and falls back to body", () => {
    document.body.insertAdjacentHTML("beforeend", "<p><span>x</span></p>");
    expect(selector($("body > p > span"))).toBe("body > p > span");
    expect(document.querySelector(selector($("[id='we.ird:id'] i")))).toBe($("[id='we.ird:id'] i"));
  });

  it("always selects exactly the element it was made for", () => {
    for (const el of Array.from(document.body.querySelectorAll("*"))) {
      const found = document.querySelectorAll(selector(el));
      expect(found.length, selector(el)).toBe(1);
      expect(found[0]).toBe(el);
    }
  });
});
