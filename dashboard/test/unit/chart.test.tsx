import { act, render } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { TimeChart } from "../../src/components/Chart";
import { applyTheme } from "../../src/theme";

const x = [Date.UTC(2026, 0, 1, 0), Date.UTC(2026, 0, 1, 1), Date.UTC(2026, 0, 1, 2)];
const series = [
  { label: "Sessions", values: [1, 4, 2], color: "#4f7cff" },
  { label: "Page views", values: [3, 9, 5], color: "#18a999" },
];
const range: [number, number] = [x[0]!, Date.UTC(2026, 0, 1, 3)];

describe("time chart", () => {
  it("draws one uPlot with a legend entry per series, labelled for assistive technology", () => {
    const { container, getByRole } = render(<TimeChart x={x} series={series} range={range} label="Traffic" />);
    expect(getByRole("img", { name: "Traffic" })).toBeTruthy();
    expect(container.querySelectorAll(".uplot")).toHaveLength(1);
    const legend = [...container.querySelectorAll(".u-legend .u-series .u-label")].map((e) => e.textContent);
    expect(legend).toEqual(["Time", "Sessions", "Page views"]);
  });

  it("redraws on a theme change and on new data, never leaving a second plot behind", () => {
    const { container, rerender, unmount } = render(<TimeChart x={x} series={series} range={range} label="Traffic" />);
    const before = container.querySelector(".uplot");
    act(() => applyTheme("dark"));
    const afterTheme = container.querySelector(".uplot");
    expect(afterTheme).not.toBe(before);
    expect(container.querySelectorAll(".uplot")).toHaveLength(1);
    rerender(<TimeChart x={x} series={[series[0]!]} range={range} label="Traffic" />);
    expect(container.querySelectorAll(".u-legend .u-series")).toHaveLength(2);
    unmount();
    expect(container.querySelectorAll(".uplot")).toHaveLength(0);
    applyTheme("light");
  });
});
