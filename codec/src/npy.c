/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * NumPy .npy files from and to byte buffers. The header is a Python dict
 * literal, e.g. {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
 * which this file parses with a small strict tokenizer.
 */
#include <stdio.h>

#include "dtype_codes.h"
#include "internal.h"

#define NPY_MAGIC "\x93NUMPY"
#define NPY_MAGIC_LEN 6
#define NPY_ALIGN 64

/* Largest element count any tensor may have (as in codec.c). */
#define MW_ELEMS_MAX (1ull << 58)

int64_t mw_shape_elems(const struct mw_shape *s)
{
	uint64_t n = 1;

	if (s == NULL || s->ndim > MW_NDIM_MAX)
		return MW_EINVAL;
	for (unsigned i = 0; i < s->ndim; i++) {
		if (s->dim[i] > MW_ELEMS_MAX)
			return MW_ERANGE;
		if (s->dim[i] != 0 && n > MW_ELEMS_MAX / s->dim[i])
			n = MW_ELEMS_MAX + 1; /* unless a later dim is 0 */
		else
			n *= s->dim[i];
	}
	return n > MW_ELEMS_MAX ? MW_ERANGE : (int64_t)n;
}

struct tok {
	const char *p, *end;
};

static void skip_ws(struct tok *t)
{
	while (t->p < t->end && (*t->p == ' ' || *t->p == '\t' ||
				 *t->p == '\n' || *t->p == '\r'))
		t->p++;
}

static int eat(struct tok *t, char c)
{
	skip_ws(t);
	if (t->p < t->end && *t->p == c) {
		t->p++;
		return 1;
	}
	return 0;
}

/* A quoted string into buf (cap bytes, truncated, NUL-terminated). */
static int parse_str(struct tok *t, char *buf, size_t cap)
{
	char q;
	size_t i = 0;

	skip_ws(t);
	if (t->p >= t->end || (*t->p != '\'' && *t->p != '"'))
		return 0;
	q = *t->p++;
	while (t->p < t->end && *t->p != q) {
		if (*t->p == '\\' || *t->p == '\n')
			return 0;
		if (i + 1 < cap)
			buf[i++] = *t->p;
		t->p++;
	}
	buf[i] = '\0';
	if (t->p >= t->end)
		return 0;
	t->p++;
	return 1;
}

static int parse_word(struct tok *t, const char *w)
{
	size_t l = strlen(w);

	skip_ws(t);
	if ((size_t)(t->end - t->p) >= l && memcmp(t->p, w, l) == 0) {
		t->p += l;
		return 1;
	}
	return 0;
}

/* (d0, d1, ...) with an optional trailing comma; 0 or error code. */
static int parse_shape(struct tok *t, struct mw_shape *s, const char **why)
{
	s->ndim = 0;
	if (!eat(t, '(')) {
		*why = "shape is not a tuple";
		return MW_EFORMAT;
	}
	for (;;) {
		uint64_t v = 0;
		int digits = 0;

		if (eat(t, ')'))
			return 0;
		skip_ws(t);
		while (t->p < t->end && *t->p >= '0' && *t->p <= '9') {
			if (v > MW_ELEMS_MAX) {
				*why = "shape dimension too large";
				return MW_ERANGE;
			}
			v = v * 10 + (uint64_t)(*t->p++ - '0');
			digits++;
		}
		if (digits == 0) {
			*why = "shape holds a non-integer";
			return MW_EFORMAT;
		}
		if (t->p < t->end && *t->p == 'L')
			t->p++;
		if (s->ndim == MW_NDIM_MAX) {
			*why = "more than 8 dimensions";
			return MW_EUNSUPP;
		}
		s->dim[s->ndim++] = v;
		if (!eat(t, ',')) {
			if (eat(t, ')'))
				return 0;
			*why = "shape tuple is malformed";
			return MW_EFORMAT;
		}
		if (s->ndim == 1 && eat(t, ')'))
			return 0;
	}
}

static int parse_dict(struct tok *t, struct mw_npy *npy, const char **why)
{
	int have_descr = 0, have_fortran = 0, have_shape = 0, fortran = 0;
	char key[32];
	int rc;

	if (!eat(t, '{')) {
		*why = "header is not a dict";
		return MW_EFORMAT;
	}
	while (!eat(t, '}')) {
		if (!parse_str(t, key, sizeof(key)) || !eat(t, ':')) {
			*why = "header dict is malformed";
			return MW_EFORMAT;
		}
		if (strcmp(key, "descr") == 0 && !have_descr) {
			have_descr = 1;
			if (!parse_str(t, npy->descr, sizeof(npy->descr))) {
				*why = "descr is not a string";
				return MW_EFORMAT;
			}
		} else if (strcmp(key, "fortran_order") == 0 && !have_fortran) {
			have_fortran = 1;
			if (parse_word(t, "True")) {
				fortran = 1;
			} else if (!parse_word(t, "False")) {
				*why = "fortran_order is not True or False";
				return MW_EFORMAT;
			}
		} else if (strcmp(key, "shape") == 0 && !have_shape) {
			have_shape = 1;
			rc = parse_shape(t, &npy->shape, why);
			if (rc < 0)
				return rc;
		} else {
			*why = "unknown or repeated key in header";
			return MW_EFORMAT;
		}
		if (!eat(t, ',')) {
			if (eat(t, '}'))
				break;
			*why = "header dict is malformed";
			return MW_EFORMAT;
		}
	}
	skip_ws(t);
	if (t->p != t->end) {
		*why = "bytes after the header dict";
		return MW_EFORMAT;
	}
	if (!have_descr || !have_fortran || !have_shape) {
		*why = "header lacks descr, fortran_order or shape";
		return MW_EFORMAT;
	}
	if (fortran) {
		*why = "fortran_order True is not supported (need C order)";
		return MW_EUNSUPP;
	}
	rc = mw_npy_dtype_of_descr(npy->descr);
	if (rc < 0) {
		*why = "dtype is not supported (need float32 '<f4')";
		return MW_EUNSUPP;
	}
	npy->dtype = (unsigned)rc;
	return 0;
}

int mw_npy_parse(const uint8_t *buf, size_t len, struct mw_npy *npy,
		 const char **why)
{
	const char *dummy;
	size_t hoff, hlen, need;
	struct tok t;
	int64_t n;
	int rc;

	if (why == NULL)
		why = &dummy;
	*why = "ok";
	if (npy == NULL || (buf == NULL && len > 0)) {
		*why = "invalid argument";
		return MW_EINVAL;
	}
	memset(npy, 0, sizeof(*npy));
	if (len < NPY_MAGIC_LEN + 2) {
		*why = "file too short for a .npy header";
		return len > 0 && memcmp(buf, NPY_MAGIC, len < NPY_MAGIC_LEN ?
								len :
								NPY_MAGIC_LEN) != 0 ?
			       MW_EBADMAGIC :
			       MW_ETRUNC;
	}
	if (memcmp(buf, NPY_MAGIC, NPY_MAGIC_LEN) != 0) {
		*why = "not a .npy file (bad magic)";
		return MW_EBADMAGIC;
	}
	if (buf[6] == 1 && buf[7] == 0) {
		hoff = 10;
	} else if ((buf[6] == 2 || buf[6] == 3) && buf[7] == 0) {
		hoff = 12;
	} else {
		*why = "unsupported .npy format version";
		return MW_EVERSION;
	}
	if (len < hoff) {
		*why = "header length cut short";
		return MW_ETRUNC;
	}
	hlen = hoff == 10 ? mw_ld_le16(buf + 8) : mw_ld_le32(buf + 8);
	if (hlen > len - hoff) {
		*why = "header cut short";
		return MW_ETRUNC;
	}
	t.p = (const char *)buf + hoff;
	t.end = t.p + hlen;
	rc = parse_dict(&t, npy, why);
	if (rc < 0)
		return rc;
	n = mw_shape_elems(&npy->shape);
	if (n < 0) {
		*why = "shape too large";
		return MW_ERANGE;
	}
	npy->n = (uint64_t)n;
	need = (size_t)n * mw_dtype_size(npy->dtype);
	npy->data = buf + hoff + hlen;
	npy->data_len = len - hoff - hlen;
	if (npy->data_len < need) {
		*why = "data cut short (fewer bytes than the shape needs)";
		return MW_ETRUNC;
	}
	if (npy->data_len > need) {
		*why = "trailing bytes after the data";
		return MW_EFORMAT;
	}
	return 0;
}

/* The header dict text (without padding) into buf; its length. */
static int dict_text(const char *descr, const struct mw_shape *s, char *buf,
		     size_t cap)
{
	int l = snprintf(buf, cap, "{'descr': '%s', 'fortran_order': False, "
				   "'shape': (",
			 descr);

	for (unsigned i = 0; i < s->ndim; i++)
		l += snprintf(buf + l, cap - (size_t)l, "%s%llu",
			      i ? ", " : "", (unsigned long long)s->dim[i]);
	l += snprintf(buf + l, cap - (size_t)l, "%s), }",
		      s->ndim == 1 ? "," : "");
	return l;
}

int64_t mw_npy_header_size(unsigned dtype, const struct mw_shape *s)
{
	const char *descr = mw_npy_descr(dtype);
	char buf[512];
	int l;

	if (descr == NULL || s == NULL || s->ndim > MW_NDIM_MAX)
		return MW_EINVAL;
	l = dict_text(descr, s, buf, sizeof(buf));
	/* magic, version, u16 length, dict, at least '\n', to 64 bytes */
	return (int64_t)((10 + (size_t)l + 1 + NPY_ALIGN - 1) / NPY_ALIGN *
			 NPY_ALIGN);
}

int64_t mw_npy_write_header(unsigned dtype, const struct mw_shape *s,
			    uint8_t *out, size_t cap)
{
	int64_t size = mw_npy_header_size(dtype, s);
	char buf[512];
	int l;

	if (size < 0)
		return size;
	if (out == NULL || cap < (uint64_t)size)
		return MW_ENOSPC;
	l = dict_text(mw_npy_descr(dtype), s, buf, sizeof(buf));
	memcpy(out, NPY_MAGIC, NPY_MAGIC_LEN);
	out[6] = 1;
	out[7] = 0;
	mw_st_le16(out + 8, (uint16_t)(size - 10));
	memcpy(out + 10, buf, (size_t)l);
	memset(out + 10 + l, ' ', (size_t)size - 10 - (size_t)l - 1);
	out[size - 1] = '\n';
	return size;
}
