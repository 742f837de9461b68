using System.Diagnostics;
using System.Xml;
using DiffusionKernels.Tests.Support;
using NUnit.Framework.Api;
using NUnit.Framework.Interfaces;
using NUnit.Framework.Internal;

namespace DiffusionKernels.TestRunner;

/// <summary>
/// <c>dk-tests [--category C]... [--name REGEX] [--fail-on-skip] [--results FILE] [--list]</c>: runs the engine's NUnit
/// tests in this process through NUnit's runner API (no SDK or VSTest needed), prints one line per test and then
/// <c>passed N, failed N, skipped N</c>. Exits 1 on any failure (or, with --fail-on-skip, any skipped or
/// inconclusive test), 2 on bad arguments and 3 when the filter matches no test, so a run cannot pass vacuously.
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        RunnerOptions options;
        try
        {
            options = RunnerOptions.Parse(args);
        }
        catch (ArgumentException e)
        {
            Console.Error.WriteLine($"dk-tests: {e.Message}");
            Console.Error.WriteLine(RunnerOptions.Usage);
            return 2;
        }
        if (options.Help)
        {
            Console.WriteLine(RunnerOptions.Usage);
            return 0;
        }

        var runner = new NUnitTestAssemblyRunner(new DefaultTestAssemblyBuilder());
        var settings = new Dictionary<string, object> { [NUnit.FrameworkPackageSettings.NumberOfTestWorkers] = 0 };
        var assembly = typeof(TestBackends).Assembly;
        runner.Load(assembly, settings);
        var filter = TestFilter.FromXml(options.FilterXml());
        int matching = runner.CountTestCases(filter);
        Console.WriteLine($"dk-tests: {assembly.GetName().Name} {assembly.GetName().Version}, {matching} tests match {options.Describe()}"
                          + $"{(Environment.GetEnvironmentVariable(TestBackends.RequireCudaVariable) == "1" ? $", {TestBackends.RequireCudaVariable}=1" : "")}");
        if (options.List)
        {
            ListTests(runner.LoadedTest!, filter);
            return matching == 0 ? 3 : 0;
        }
        if (matching == 0)
        {
            Console.WriteLine("dk-tests: no test matches the filter");
            Console.WriteLine("passed 0, failed 0, skipped 0");
            return 3;
        }

        var listener = new ConsoleListener();
        var clock = Stopwatch.StartNew();
        var result = runner.Run(listener, filter);
        if (options.ResultsFile is { } file)
        {
            var xml = new XmlDocument();
            xml.LoadXml(result.ToXml(true).OuterXml);
            xml.Save(file);
        }
        foreach (var failure in listener.Failures) Console.WriteLine(failure);
        Console.WriteLine($"dk-tests: {clock.Elapsed.TotalSeconds:F1} s");
        Console.WriteLine($"passed {listener.Passed}, failed {listener.Failed}, skipped {listener.Skipped}");
        if (listener.Failed > 0) return 1;
        if (options.FailOnSkip && listener.Skipped > 0)
        {
            Console.WriteLine("dk-tests: skipped tests count as failures here (--fail-on-skip)");
            return 1;
        }
        return 0;
    }

    private static void ListTests(ITest test, TestFilter filter)
    {
        if (!test.IsSuite)
        {
            if (filter.Pass(test)) Console.WriteLine(test.FullName);
            return;
        }
        foreach (var child in test.Tests) ListTests(child, filter);
    }
}
