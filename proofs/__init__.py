"""The mathematics: one module per derivation of the course's problem sets, each exposing DERIVATIONS.

This file declares what is about the course as a whole (checkers.registry reads it without importing
the modules): its problem sets in course order, and the problems `proofcheck serve` warms first.
"""

from checkers import ProblemSet

PROBLEM_SETS = (
    ProblemSet("hw6-2021", "Homework 6",
               "Batch-norm removal, default-initialisation variance, Gaussian change of variables, "
               "KL divergence of continuous variables, Gaussian KL in closed form.", date="due 2021-11-09",
               names=("smallNetTrain", "smallNetTest", "model", "model_test")),
    ProblemSet("student-hw6", "A submitted solution to Homework 6",
               "One student's handwritten solution. Its final formulas (Problem 1's folded batch-norm weight "
               "and bias, Problem 2's output variance, Problem 4's Gaussian density, Problem 6's Gaussian KL), "
               "transcribed from the submission, are graded against the checked reference claims: each with "
               "its verdict, the grader's feedback and, where it is wrong, an instance on which it differs "
               "from the reference. After them, the derivations of the problems it answers, checked claim by "
               "claim.",
               answers="student_hw6_answers", names=("smallNetTrain", "smallNetTest", "model", "model_test")),
    ProblemSet("hw7-2024", "Homework 7",
               "Log-sum-exp limits and the softmax gradient, AlexNet operation counts, batch-norm removal, "
               "backpropagation through 1-D convolutions, fully-connected layers as convolutions.",
               date="due 2024-04-29", names=("Net1", "model1", "model2", "images", "smallNetTrain", "smallNetTest")),
    ProblemSet("final-2022", "Final exam",
               "LayerNorm, HINT flow, flow maximum likelihood as KL plus entropy, VAE with Bernoulli likelihood, "
               "VAE prior scaling, geometric GAN and total variation, ResNeXt block.", date="2022-12-17",
               names=("myBatchNorm", "twoResNext", "twoResNet")),
    ProblemSet("quiz1-2020", "Quiz 1",
               "Mutual information, the ELBO decomposition, backpropagation loops for batch norm, RNN parallel time.",
               date="2020", names=("CELL", "Phi", "X", "ZERO"), log_name="ln"),
)

WARM_FIRST = ("kl-gaussian",)
