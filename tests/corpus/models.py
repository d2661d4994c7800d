"""Small published models, written out from their papers' equations with NumPy and SciPy.

Each is a function of one flat parameter vector, as a user would write it before reaching for
an autodiff library; ndgrad must agree with finite differences.
"""

from __future__ import annotations

import numpy as np
import scipy.special as sc
import scipy.stats as st

from . import fd

RNG = np.random.default_rng(2024)
N, D, K = 12, 3, 3
XS = RNG.standard_normal((N, D))
YB = (RNG.uniform(size=N) < 0.5).astype(float)
YPM = np.where(YB > 0, 1.0, -1.0)
YC = RNG.integers(0, K, N)
YR = XS @ np.array([0.5, -1.0, 2.0]) + 0.1 * RNG.standard_normal(N)
COUNTS = RNG.poisson(2.0, N).astype(float)
SEQ = RNG.standard_normal((5, 2))
EPS = RNG.standard_normal((4, 2))


def logistic_nll(w):
    """Cox (1958): -sum log sigma(y x.w), y in {-1, 1}."""
    return np.sum(np.logaddexp(0.0, -YPM * (XS @ w)))


def logistic_nll_expit(w):
    """The same with scipy.special.log_expit and an L2 penalty (ridge logistic regression)."""
    return -np.sum(sc.log_expit(YPM * (XS @ w))) + 0.5 * 0.1 * np.dot(w, w)


def softmax_regression(wflat):
    """Multinomial logistic regression: cross-entropy with logsumexp over classes."""
    W = np.reshape(wflat, (D, K))
    logits = XS @ W
    return np.sum(sc.logsumexp(logits, axis=1) - logits[np.arange(N), YC])


def gmm_loglik_means(mu_flat):
    """Mixture of Gaussians (Bishop 2006, eq. 9.14): sum_n log sum_k pi_k N(x_n | mu_k, s_k^2 I)."""
    mu = np.reshape(mu_flat, (K, D))
    log_pi = np.log(np.array([0.2, 0.5, 0.3]))
    sq = np.sum((XS[:, None, :] - mu[None]) ** 2, axis=-1)
    sig = np.array([0.8, 1.2, 1.0])
    log_n = -0.5 * sq / sig**2 - D * np.log(sig) - 0.5 * D * np.log(2 * np.pi)
    return np.sum(sc.logsumexp(log_pi + log_n, axis=1))


def gmm_loglik_weights(logits):
    """The same mixture w.r.t. its weights, pi = softmax(logits), via scipy.stats.norm."""
    mu = np.array([[-1.0, 0.0, 0.5], [0.5, 1.0, -0.5], [1.5, -1.0, 0.0]])
    log_n = np.sum(st.norm.logpdf(XS[:, None, :], mu[None], 1.0), axis=-1)
    return np.sum(sc.logsumexp(sc.log_softmax(logits) + log_n, axis=1))


def elman_rnn(theta):
    """Elman (1990): h_t = tanh(W h_{t-1} + U x_t + b); loss = sum_t |h_t|^2 / 2."""
    H = 3
    W = np.reshape(theta[:9], (H, H))
    U = np.reshape(theta[9:15], (H, 2))
    b = theta[15:18]
    h = np.zeros(H)
    loss = 0.0
    for x in SEQ:
        h = np.tanh(W @ h + U @ x + b)
        loss = loss + 0.5 * np.sum(h**2)
    return loss


def lstm(theta):
    """LSTM (Hochreiter & Schmidhuber 1997, with the forget gate of Gers et al. 2000)."""
    H = 2
    Wx = np.reshape(theta[:16], (4 * H, 2))
    Wh = np.reshape(theta[16:32], (4 * H, H))
    b = theta[32:40]
    h, c = np.zeros(H), np.zeros(H)
    for x in SEQ:
        z = Wx @ x + Wh @ h + b
        i, f, o = sc.expit(z[:H]), sc.expit(z[H : 2 * H]), sc.expit(z[2 * H : 3 * H])
        g = np.tanh(z[3 * H :])
        c = f * c + i * g
        h = o * np.tanh(c)
    return np.sum(h * np.array([1.0, -0.5])) + np.sum(c**2)


def gp_marginal_likelihood(log_params):
    """Rasmussen & Williams (2006), Algorithm 2.1: log p(y | X) with a squared-exponential
    kernel, hyperparameters (log length scale, log signal std, log noise std)."""
    ell, sf, sn = np.exp(log_params)
    sq = np.sum((XS[:, None, :] - XS[None]) ** 2, axis=-1)
    Kxx = sf**2 * np.exp(-0.5 * sq / ell**2) + (sn**2 + 1e-8) * np.eye(N)
    L = np.linalg.cholesky(Kxx)
    alpha = np.linalg.solve(L.T, np.linalg.solve(L, YR))
    return -0.5 * YR @ alpha - np.sum(np.log(np.diag(L))) - 0.5 * N * np.log(2 * np.pi)


def vae_elbo(phi):
    """Kingma & Welling (2014): a one-sample-per-row reparameterised ELBO for a linear Gaussian
    decoder, with the densities from scipy.stats.norm."""
    mu, log_s = phi[:2], phi[2:4]
    dec = np.reshape(phi[4:10], (3, 2))
    z = mu + np.exp(log_s) * EPS  # (4, 2): four samples
    x = np.array([0.5, -0.2, 1.0])
    log_lik = np.sum(st.norm.logpdf(x, z @ dec.T, 0.7), axis=1)
    log_prior = np.sum(st.norm.logpdf(z), axis=1)
    log_q = np.sum(st.norm.logpdf(z, mu, np.exp(log_s)), axis=1)
    return np.mean(log_lik + log_prior - log_q)


def gaussian_kl(phi):
    """KL(N(mu, diag s^2) || N(0, I)), the closed form of Kingma & Welling (2014), App. B."""
    mu, log_s = phi[:3], phi[3:]
    return 0.5 * np.sum(mu**2 + np.exp(2 * log_s) - 1.0 - 2 * log_s)


def bayes_linreg_evidence(log_ab):
    """Bishop (2006), eq. 3.86: the log evidence of Bayesian linear regression in (alpha, beta)."""
    alpha, beta = np.exp(log_ab)
    A = alpha * np.eye(D) + beta * XS.T @ XS
    m = beta * np.linalg.solve(A, XS.T @ YR)
    E = 0.5 * beta * np.sum((YR - XS @ m) ** 2) + 0.5 * alpha * m @ m
    return (0.5 * D * np.log(alpha) + 0.5 * N * np.log(beta) - E
            - 0.5 * np.linalg.slogdet(A)[1] - 0.5 * N * np.log(2 * np.pi))  # fmt: skip


def hmm_forward(logits):
    """Rabiner (1989): the forward algorithm in log space, transitions = softmax(logits)."""
    log_A = sc.log_softmax(np.reshape(logits, (2, 2)), axis=1)
    log_pi = np.log(np.array([0.6, 0.4]))
    obs = np.array([0.3, -0.8, 1.1, 0.4, -0.2])
    log_b = st.norm.logpdf(obs[:, None], np.array([-0.5, 0.7]), 0.8)
    la = log_pi + log_b[0]
    for t in range(1, len(obs)):
        la = sc.logsumexp(la[:, None] + log_A, axis=0) + log_b[t]
    return sc.logsumexp(la)


def poisson_regression(w):
    """Poisson GLM (Nelder & Wedderburn 1972): -log p(counts | exp(X w)) with gammaln."""
    eta = XS @ w
    return -np.sum(COUNTS * eta - np.exp(eta) - sc.gammaln(COUNTS + 1))


def poisson_regression_stats(w):
    """The same likelihood through scipy.stats.poisson.logpmf."""
    return -np.sum(st.poisson.logpmf(COUNTS, np.exp(XS @ w)))


def probit_regression(w):
    """Bliss (1934): -sum log Phi(y x.w) with scipy.stats.norm.logcdf."""
    return -np.sum(st.norm.logcdf(YPM * (XS @ w)))


def robust_t_regression(theta):
    """Lange, Little & Taylor (1989): Student-t regression, w and log scale."""
    w, log_s = theta[:3], theta[3]
    return -np.sum(st.t.logpdf(YR - XS @ w, 4.0, scale=np.exp(log_s)))


def mlp_classifier(theta):
    """Rumelhart, Hinton & Williams (1986): one tanh hidden layer, softmax cross-entropy."""
    W1 = np.reshape(theta[:12], (D, 4))
    W2 = np.reshape(theta[12:24], (4, K))
    logits = np.tanh(XS @ W1) @ W2
    return -np.sum(sc.log_softmax(logits, axis=1)[np.arange(N), YC])


def attention(theta):
    """Vaswani et al. (2017): scaled dot-product attention, softmax(Q K^T / sqrt(d)) V."""
    Wq = np.reshape(theta[:6], (D, 2))
    Wk = np.reshape(theta[6:12], (D, 2))
    Q, Kk, Vv = XS[:4] @ Wq, XS @ Wk, XS @ np.ones((D, 2))
    out = sc.softmax(Q @ Kk.T / np.sqrt(2.0), axis=1) @ Vv
    return np.sum(out**2)


def skipgram_negative_sampling(vecs):
    """Mikolov et al. (2013): log sigma(u.v) + sum_k log sigma(-u.n_k) with log_expit."""
    u, v = vecs[:3], vecs[3:6]
    negs = XS[:4]
    return -(sc.log_expit(u @ v) + np.sum(sc.log_expit(-(negs @ u))))


def tsne_kl(yflat):
    """van der Maaten & Hinton (2008): KL(P || Q) with the Student-t kernel of t-SNE."""
    Y = np.reshape(yflat, (5, 2))
    P = sc.softmax(-np.sum((XS[:5, None] - XS[None, :5]) ** 2, axis=-1) - 1e9 * np.eye(5))
    num = 1.0 / (1.0 + np.sum((Y[:, None] - Y[None]) ** 2, axis=-1)) * (1 - np.eye(5))
    Q = num / np.sum(num)
    off = ~np.eye(5, dtype=bool)
    return np.sum(P[off] * np.log(P[off] / Q[off]))


def black_scholes(params):
    """Black & Scholes (1973): a European call, w.r.t. spot, volatility and rate."""
    S, sigma, r = params
    K_, T_ = 1.1, 0.75
    d1 = (np.log(S / K_) + (r + 0.5 * sigma**2) * T_) / (sigma * np.sqrt(T_))
    d2 = d1 - sigma * np.sqrt(T_)
    return S * st.norm.cdf(d1) - K_ * np.exp(-r * T_) * st.norm.cdf(d2)


def bradley_terry(strengths):
    """Bradley & Terry (1952): pairwise comparison log-likelihood with expit."""
    wins = [(0, 1), (1, 2), (2, 0), (0, 2), (3, 1), (3, 0)]
    i, j = np.array(wins).T
    return np.sum(np.log(sc.expit(strengths[i] - strengths[j])))


def dirichlet_multinomial_vi(log_alpha):
    """Blei, Ng & Jordan (2003): the E_q[log theta] terms of LDA's ELBO with digamma."""
    alpha = np.exp(log_alpha)
    counts = np.array([3.0, 1.0, 5.0, 0.0])
    e_log = sc.digamma(alpha) - sc.digamma(np.sum(alpha))
    return (np.sum((counts + 0.5 - alpha) * e_log) + np.sum(sc.gammaln(alpha))
            - sc.gammaln(np.sum(alpha)))  # fmt: skip


CASES = [
    fd("model.logistic_nll", logistic_nll, RNG.standard_normal(D)),
    fd("model.logistic_nll_expit", logistic_nll_expit, RNG.standard_normal(D)),
    fd("model.softmax_regression", softmax_regression, RNG.standard_normal(D * K)),
    fd("model.gmm_loglik_means", gmm_loglik_means, RNG.standard_normal(K * D)),
    fd("model.gmm_loglik_weights", gmm_loglik_weights, RNG.standard_normal(K)),
    fd("model.elman_rnn", elman_rnn, 0.5 * RNG.standard_normal(18)),
    fd("model.lstm", lstm, 0.5 * RNG.standard_normal(40)),
    fd("model.gp_marginal_likelihood", gp_marginal_likelihood, np.log([1.2, 0.9, 0.3])),
    fd("model.vae_elbo", vae_elbo, 0.5 * RNG.standard_normal(10)),
    fd("model.gaussian_kl", gaussian_kl, RNG.standard_normal(6)),
    fd("model.bayes_linreg_evidence", bayes_linreg_evidence, np.log([0.5, 20.0])),
    fd("model.hmm_forward", hmm_forward, RNG.standard_normal(4)),
    fd("model.poisson_regression", poisson_regression, 0.3 * RNG.standard_normal(D)),
    fd("model.poisson_regression_stats", poisson_regression_stats, 0.3 * RNG.standard_normal(D)),
    fd("model.probit_regression", probit_regression, RNG.standard_normal(D)),
    fd("model.robust_t_regression", robust_t_regression, np.r_[0.3 * RNG.standard_normal(D), 0.2]),
    fd("model.mlp_classifier", mlp_classifier, 0.5 * RNG.standard_normal(24)),
    fd("model.attention", attention, 0.5 * RNG.standard_normal(12)),
    fd("model.skipgram_negative_sampling", skipgram_negative_sampling, RNG.standard_normal(6)),
    fd("model.tsne_kl", tsne_kl, RNG.standard_normal(10)),
    fd("model.black_scholes", black_scholes, [1.0, 0.25, 0.03]),
    fd("model.bradley_terry", bradley_terry, RNG.standard_normal(4)),
    fd("model.dirichlet_multinomial_vi", dirichlet_multinomial_vi, RNG.standard_normal(4)),
]
