namespace DiffusionKernels.Samplers.Solvers;

/// <summary>The order a multistep solver may use at a step: warm-up, and diffusers' lower_order_final.</summary>
internal static class MultistepOrder
{
    /// <summary>
    /// min(maxOrder, previous evaluations + 1); with lower_order_final and fewer than 15 steps (diffusers'
    /// DPMSolverMultistep/DEIS rule) the last step is first order and the one before at most second.
    /// </summary>
    public static int Limit(int maxOrder, int step, int steps, bool lowerOrderFinal)
    {
        int order = Math.Min(maxOrder, step + 1);
        if (lowerOrderFinal && steps < 15)
        {
            if (step == steps - 1) order = 1;
            else if (step == steps - 2) order = Math.Min(order, 2);
        }
        return order;
    }
}
